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
    log_index: int
    block_number: int
    block_hash: str
    from_address: str
    to_address: str
    amount: int
    #: Unix seconds of the block, when the node reports it with the logs (else None).
    timestamp: int | None = None


#: Given every recipient seen in a range, returns the ones the gateway watches.
Matcher = Callable[[set[str]], set[str]]


@runtime_checkable
class ChainDriver(Protocol):
    """What every chain driver provides. Addresses are returned in canonical form."""

    #: Which account-level xpub derives this network's addresses ("evm", "tron", ...).
    family: ClassVar[str]
    #: The network's configured name, e.g. "ethereum" or "tron".
    name: str
    #: Blocks a payment needs (its own included) before it counts as confirmed.
    confirmations: int
    #: The most blocks one ``transfers`` call should be asked for.
    max_block_range: int

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

    def head(self) -> int:
        """Number of the newest block."""

    def confirmed_head(self, head: int) -> int:
        """Newest block number that counts as confirmed when the chain head is ``head``."""

    def block_hash(self, number: int) -> str | None:
        """Hash (id) of the canonical block ``number``, or None when there is none yet."""

    def transfers(self, start: int, end: int, match: Matcher | None = None) -> list[Transfer]:
        """Every successful token transfer in blocks ``start..end`` inclusive.

        ``match(recipients)`` returns the recipients the caller watches; when given, only
        transfers to those are needed, so a driver can skip work for the rest. It is
        called at most once per call, with every recipient seen in the range.
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
