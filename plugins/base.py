"""The chain driver protocol: the only thing the core knows about a blockchain.

A driver is a class registered under the entry-point group ``gateway.chains``.
The core builds one instance per configured network with ``Driver(name, settings)``
and then talks to it only through the methods below. Drivers never import Flask
or the gateway core; the core never imports a concrete driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

ENTRY_POINT_GROUP = "gateway.chains"


class DriverError(Exception):
    """A node or provider failed; the watcher retries later without moving its cursor."""


class RateLimited(DriverError):
    """The provider asked us to slow down (HTTP 429/503, quota errors)."""

    def __init__(self, message: str = "rate limited", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class DriverConfigError(ValueError):
    """A network's settings are invalid; ``key`` names the offending setting."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True, slots=True)
class Transfer:
    """One token transfer as the chain reports it (amount in base units)."""

    tx_hash: str
    #: Where the chain puts the log (EVM: in the block; TRON: in the receipt). It can
    #: change when a reorg re-includes the transaction, so it is not an identity.
    log_index: int
    block_number: int
    block_hash: str
    from_address: str
    to_address: str
    amount: int
    #: Unix seconds of the block.
    timestamp: int


@dataclass(frozen=True, slots=True)
class Block:
    """A block header, as much of it as the watcher needs."""

    number: int
    hash: str
    parent_hash: str
    #: Unix seconds.
    timestamp: int


@dataclass(frozen=True, slots=True)
class Tip:
    """The chain's newest block and its newest final one, read in one look."""

    number: int
    #: Hash of block ``number`` when the same answer gives it (saves a header read), else None.
    hash: str | None
    #: Newest block that counts as confirmed: ``confirmations`` deep, or final by the chain.
    confirmed: int


@dataclass(frozen=True, slots=True)
class Scan:
    """Every transfer in a block range, and the range's first and last blocks as the same
    read saw them (the first's parent hash links the range to the block before it)."""

    transfers: list[Transfer]
    end: Block
    first: Block


#: Given every recipient seen in a range, returns the ones the gateway watches.
Matcher = Callable[[set[str]], set[str]]


class Rejected(DriverError):
    """The node refused a transaction for good (bad signature, expired, no funds for fees):
    sending the same bytes again cannot succeed."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A token transfer to send, as built (unsigned) or as decoded back from signed bytes."""

    sender: str
    to: str
    #: Token base units.
    amount: int
    #: The token contract the transfer calls.
    token: str
    #: What else makes the transaction this one, JSON-safe: EVM ``chain_id``, ``nonce``,
    #: ``gas``, ``max_fee_per_gas``, ``max_priority_fee_per_gas``; TRON ``ref_block_bytes``,
    #: ``ref_block_hash``, ``expiration`` (ms), ``timestamp``, ``fee_limit``.
    fields: dict[str, Any]
    #: The unsigned transaction as an offline signer takes it, JSON-safe (EVM: the
    #: transaction dict; TRON: the transaction object with ``txID`` and ``raw_data_hex``).
    unsigned: dict[str, Any]
    #: The most native currency (wei, sun) its fees can burn.
    max_fee: int


@dataclass(frozen=True, slots=True)
class Signed:
    """A signed transaction, the hash it has on chain, and what it does."""

    #: What the node takes: EVM the 0x-hex raw transaction; TRON the signed transaction
    #: object as JSON text (what ``broadcasttransaction`` takes).
    raw: str
    tx_hash: str
    transfer: Outgoing


class TxState(StrEnum):
    """Where a sent transaction stands, as far as the node can tell."""

    #: The node has it but no block does yet.
    PENDING = "pending"
    #: In a block, and the transfer happened.
    MINED = "mined"
    #: In a block, and it reverted: no tokens moved, fees were paid.
    FAILED = "failed"
    #: The node does not know it (not broadcast, dropped, or a lagging backend).
    UNKNOWN = "unknown"
    #: It can never be included any more (TRON: its expiration has passed the head).
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class TxStatus:
    """A transaction's state; block and fee once it is in a block."""

    state: TxState
    block_number: int | None = None
    block_hash: str | None = None
    #: Native currency (wei, sun) the transaction paid, once it is in a block.
    fee: int | None = None


@runtime_checkable
class ChainDriver(Protocol):
    """What every chain driver provides. Addresses are returned in canonical form."""

    #: Which account-level xpub derives this network's addresses ("evm", "tron", ...).
    family: ClassVar[str]
    #: The network's configured name, e.g. "ethereum" or "tron".
    name: str
    #: Blocks a payment needs (its own included) before it counts as confirmed.
    confirmations: int
    #: The most blocks one ``scan`` call should be asked for.
    max_block_range: int
    #: Seconds a caught-up watcher waits between looks at this chain; None: the global
    #: ``[watcher] poll_interval``. A chain whose node bills per request sets it longer.
    poll_interval: float | None

    def __init__(self, name: str, settings: dict[str, Any]) -> None: ...

    def decimals(self) -> int:
        """Decimals of the configured token (read from the chain, cached)."""

    def token_address(self) -> str:
        """The configured token contract, canonical form."""

    def derive_address(self, xpub: str, index: int) -> str:
        """Address at external-chain index ``index`` below an account-level xpub."""

    def normalize_address(self, address: str) -> str:
        """The canonical form of ``address``; raises ValueError when it is not valid."""

    def payment_uri(self, address: str, amount: int) -> str:
        """A wallet URI asking for ``amount`` base units of the token to ``address``."""

    def tip(self) -> Tip:
        """The newest block and the newest confirmed one."""

    def block(self, number: int) -> Block | None:
        """Header of canonical block ``number``, or None when the node has none (yet)."""

    def scan(self, start: int, end: int, match: Matcher | None = None) -> Scan:
        """Every successful token transfer in blocks ``start..end`` inclusive.

        All or an exception: a node that lacks a block of the range (a lagging backend
        behind a load balancer) must raise DriverError, never answer it as empty.
        ``match(recipients)`` returns the recipients the caller watches; when given, only
        transfers to those are needed, so a driver can skip work for the rest. It is
        called at most once per call, with every recipient seen in the range.
        """

    # -- sending (payouts) ----------------------------------------------------------------
    # The core keeps the keys (encrypted) and the payouts; a driver builds, signs with a key
    # it is handed for one call, decodes and sends, and never stores a key.

    def balance(self, address: str) -> int:
        """Token balance of ``address`` in base units."""

    def native_balance(self, address: str) -> int:
        """Native currency (wei, sun) of ``address``: what pays the fees."""

    def address_of_key(self, private_key: bytes) -> str:
        """The address of a 32-byte secp256k1 private key on this chain."""

    def build_transfer(
        self, sender: str, to: str, amount: int, nonce: int | None = None, fee_bump: int = 0
    ) -> Outgoing:
        """An unsigned token transfer. ``nonce``: the sender's next (EVM; ignored on TRON).

        ``fee_bump`` raises the fee bid by that many percent, to replace a stuck transaction
        (EVM: same nonce, higher fee caps; TRON: a higher fee limit for the energy).
        """

    def sign(self, transfer: Outgoing, private_key: bytes) -> Signed:
        """Sign ``transfer`` with ``private_key``, which is not kept."""

    def decode(self, raw: str) -> Signed:
        """Signed bytes from an offline signer, decoded; ValueError when they are not a
        validly signed transfer of this chain's token (the sender comes from the signature)."""

    def broadcast(self, signed: Signed) -> None:
        """Send ``signed``; sending what the node already has is a success.

        DriverError when it may be tried again; Rejected when it can never succeed.
        """

    def transaction_status(self, tx_hash: str, raw: str | None = None) -> TxStatus:
        """Where a sent transaction stands.

        ``raw`` is the signed transaction (``Signed.raw``). A driver whose chain lets a
        transaction expire needs it to answer EXPIRED (the node forgets a transaction it
        dropped, and the hash does not tell when it expires); without it such a driver
        answers UNKNOWN for a transaction no node has.
        """


class Registry:
    """Driver classes by kind: entry points (loaded on first use) or registered by hand."""

    def __init__(self) -> None:
        self._classes: dict[str, type | EntryPoint] = {}

    def register(self, kind: str, cls: type) -> None:
        """Make ``cls`` available as driver kind ``kind``."""
        self._classes[kind] = cls

    def load_entry_points(self, only: set[str] | None = None) -> None:
        """Register every driver installed under the ``gateway.chains`` group."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if only is None or ep.name in only:
                # imported when first used, so one broken plugin cannot stop the others
                self._classes[ep.name] = ep

    def kinds(self) -> list[str]:
        """Names of the registered driver kinds."""
        return sorted(self._classes)

    def driver_class(self, kind: str) -> type:
        """The class registered as ``kind``; DriverConfigError when there is none."""
        try:
            found = self._classes[kind]
        except KeyError:
            known = ", ".join(self.kinds()) or "none"
            raise DriverConfigError("driver", f"unknown driver {kind!r} (known: {known})") from None
        if isinstance(found, EntryPoint):
            found = self._classes[kind] = found.load()
        return found

    def create(self, kind: str, name: str, settings: dict[str, Any]) -> ChainDriver:
        """Build a driver of ``kind`` for network ``name``."""
        return self.driver_class(kind)(name, settings)


def default_registry() -> Registry:
    """A registry with the installed drivers; GATEWAY_DRIVERS=evm,tron limits which load."""
    registry = Registry()
    only = os.environ.get("GATEWAY_DRIVERS")
    registry.load_entry_points({k.strip() for k in only.split(",")} if only else None)
    return registry


# Node request observers: the host application (the gateway's metrics) registers one to
# count every request a driver makes; drivers report through ``observed`` and import
# nothing from the host.
RequestObserver = Callable[[str, str, str], None]
_observers: list[RequestObserver] = []


def observe_requests(observer: RequestObserver) -> None:
    """Call ``observer(chain, method, outcome)`` after every node request of every driver;
    outcome is ``ok``, ``rate_limited`` or ``error``."""
    if observer not in _observers:
        _observers.append(observer)


def observed(chain: str, method: str, call: Callable[[], Any]) -> Any:
    """Run one node request (with its retries) and report how it ended."""
    try:
        result = call()
    except RateLimited:
        _report(chain, method, "rate_limited")
        raise
    except DriverError:
        _report(chain, method, "error")
        raise
    _report(chain, method, "ok")
    return result


def _report(chain: str, method: str, outcome: str) -> None:
    for observer in _observers:
        observer(chain, method, outcome)
