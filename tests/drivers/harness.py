"""The DriverHarness contract: what the conformance suite needs to know about one driver."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

from bip_utils import Bip44Coins

from plugins.base import ChainDriver
from tests.support.keys import account_xpub


class DriverHarness(ABC):
    """What the conformance suite needs to know about one driver and its local chain."""

    #: Entry-point name under ``gateway.chains``.
    kind: ClassVar[str]
    #: BIP-44 coin type of the driver's addresses.
    coin: ClassVar[Bip44Coins]
    #: Address at index 0 of the "test test ... junk" mnemonic's account 0 (canonical form).
    vector: ClassVar[str]
    #: A well-formed address of this chain whose checksum is wrong.
    bad_checksum: ClassVar[str]
    #: Decimals of the token the harness's chain serves.
    token_decimals: ClassVar[int]
    #: The funded address ``pay`` sends from (canonical form).
    payer: str
    #: Fixtures the harness is built from, by name, passed to ``__init__`` as keywords.
    fixtures: ClassVar[tuple[str, ...]]
    #: Conformance tests this driver is known to fail: test name -> the bug (strict xfail).
    known_failures: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Valid settings for a driver on the local chain."""

    @abstractmethod
    def bad_settings(self) -> list[tuple[str, Any]]:
        """(key, value) pairs specific to this driver that must raise DriverConfigError(key)."""

    @abstractmethod
    def driver_class(self) -> type:
        """The driver class under test."""

    def make_driver(self, **overrides: Any) -> ChainDriver:
        """A driver on the local chain; keyword arguments override settings."""
        return self.driver_class()("conformance", {**self.settings(), **overrides})

    @abstractmethod
    def equivalent_forms(self, address: str) -> list[str]:
        """Other spellings of a canonical ``address`` that normalize back to it."""

    @abstractmethod
    def pay(self, to: str, amount: int) -> str:
        """Send ``amount`` base units of the token to ``to``; the tx hash as the driver reports it.

        The transfer is in a block once ``mine`` has been called (or at once, on automining
        chains).
        """

    @abstractmethod
    def pay_other_token(self, to: str, amount: int) -> str:
        """Send ``amount`` of a different token to ``to``; the tx hash."""

    @abstractmethod
    def pay_failing(self, to: str, amount: int) -> str | None:
        """Send a token transfer that fails on chain (reverts); None if the chain has no such."""

    @abstractmethod
    def mine(self, count: int = 1) -> int:
        """Produce ``count`` blocks (pending transfers go into the first); the new head."""

    @abstractmethod
    def reorg(self, depth: int) -> None:
        """Replace the newest ``depth`` blocks with empty ones at the same heights."""

    @abstractmethod
    def rate_limit(self, requests: int) -> None:
        """Answer the next ``requests`` node requests with HTTP 429 (Retry-After: 0)."""

    @abstractmethod
    def lag(self, behind: int) -> None:
        """Answer the next scan's requests for transfers from a backend ``behind`` blocks
        behind the head, as one behind a provider's load balancer may."""

    @abstractmethod
    def requests_seen(self) -> int:
        """How many requests the node (or the proxy in front of it) has received so far."""

    def recipient(self, index: int) -> str:
        """A merchant deposit address (account 1 of the test mnemonic) to pay in tests."""
        return self.make_driver().derive_address(account_xpub(self.coin, account=1), index)

    # -- sending ------------------------------------------------------------------------

    #: Private key of ``payer``: holds the token and native currency for fees.
    payer_key: bytes
    #: Whether the chain orders a sender's transactions by nonce (a replacement reuses one).
    has_nonces: ClassVar[bool]
    #: Whether a transaction can expire unsent (TRON: ``raw_data.expiration``).
    expires: ClassVar[bool]
    #: Whether the sender is named in the signed bytes (TRON), so that tampered bytes are
    #: refused; where it is not (EVM) they recover another sender, never the signer.
    names_its_sender: ClassVar[bool]
    #: What sending from ``poor_sender`` comes to: "failed" (mined, reverted) or "rejected".
    poor_outcome: ClassVar[str]

    @abstractmethod
    def poor_sender(self) -> bytes:
        """A fresh key whose transfer of 1 base unit the chain will not carry out: it can pay
        fees but holds no tokens (EVM), or holds tokens but no TRX at all (TRON)."""

    @abstractmethod
    def random_tx_hash(self) -> str:
        """A well-formed transaction hash no transaction has."""

    @abstractmethod
    def other_token(self) -> str:
        """A second token contract on the chain (canonical form)."""

    @abstractmethod
    def sign_other_call(self, key: bytes, to: str, amount: int) -> str:
        """Signed raw of ``approve(to, amount)`` on the token from ``key``: another function."""

    @abstractmethod
    def tamper(self, raw: str, what: str) -> str:
        """``raw`` with its "amount", "recipient" or "signature" changed, not signed again."""

    @contextlib.contextmanager
    def holding_blocks(self) -> Iterator[None]:
        """Keep sent transactions out of blocks until ``mine`` (no-op where that is the rule)."""
        yield

    def expire(self, expiration_ms: int) -> None:
        """Produce blocks until the chain's final time is past ``expiration_ms``."""
        raise NotImplementedError(f"{self.kind} transactions do not expire")
