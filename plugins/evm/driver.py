"""ERC-20 USDT on any EVM chain, read through one JSON-RPC endpoint with web3.py.

One ``eth_getLogs`` per block range (token address + Transfer topic) finds every transfer;
the core matches recipients locally, so the cost does not grow with the number of orders.
Payouts (signing and sending) are not implemented by this driver.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import requests
from bip_utils import Bip44Coins
from web3 import Web3
from web3.exceptions import BlockNotFound, Web3Exception, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware

from plugins.base import DriverConfigError, DriverError, Matcher, RateLimited, Transfer
from plugins.evm.settings import EvmSettings, normalize_address
from plugins.hd import child_address
from plugins.http import retry_after

T = TypeVar("T")

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
DECIMALS_SELECTOR = "0x313ce567"  # decimals()

QUICK_RETRIES = 2  # then RateLimited: the watcher owns the long waits
QUICK_RETRY_MAX_WAIT = 1.0  # a longer Retry-After is handed straight to the watcher
BACKOFF_BASE = 0.1
GROW_AFTER = 10  # full-size successes before the range hint grows again

# Lower-case fragments of what providers answer when eth_getLogs covers too much
# (geth/Infura, Alchemy, QuickNode, Ankr/BSC, Chainstack, reth/erigon, publicnode ...).
RANGE_REFUSALS = (
    "query returned more than",
    "more than 10000 results",
    "exceeds max results",
    "exceeds limit of",
    "block range",
    "range too large",
    "range is too",
    "exceed maximum block range",
    "exceeds max block range",
    "limit exceeded",
    "response size exceeded",
    "response size is larger",
    "too many blocks",
    "too many logs",
    "is limited to",
    "log query timed out",
)
# Checked before the range list: "request rate limit exceeded" is not about the range.
RATE_LIMIT_ERRORS = (
    "rate limit",
    "request rate",
    "too many requests",
    "compute units",
    "capacity",
    "daily request count",
    "quota",
)
# Said about a block beyond the head: a smaller range would not help.
NOT_A_SIZE_PROBLEM = ("beyond current head", "after last accepted block", "invalid block range")

SUGGESTED_HEX_RANGE = re.compile(r"\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]")
SUGGESTED_DEC_RANGE = re.compile(r"range (\d+)\s*-\s*(\d+)")


class _RangeRefused(DriverError):
    """The provider refused an eth_getLogs range as too large."""


class EvmDriver:
    """Chain driver for an ERC-20 token (USDT) on one EVM network."""

    family: ClassVar[str] = "evm"

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name = name
        self.settings = EvmSettings.parse(settings)
        self.confirmations = self.settings.confirmations
        # shrinks when a provider refuses a range, grows back towards the configured cap
        self.max_block_range = self.settings.max_block_range
        self._success_streak = 0
        self._decimals: int | None = None
        self._chain_checked = False
        provider = Web3.HTTPProvider(
            self.settings.rpc_url,
            request_kwargs={"timeout": self.settings.timeout},
            # web3's own retries would hide 429s from us and sleep without jitter
            exception_retry_configuration=None,
        )
        self.w3 = Web3(provider)
        if self.settings.poa:
            self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)

    # -- offline ------------------------------------------------------------------

    def token_address(self) -> str:
        """The configured token contract, checksummed."""
        return self.settings.token

    def derive_address(self, xpub: str, index: int) -> str:
        """Checksummed address at m/44'/60'/account'/0/index below the account ``xpub``."""
        return Web3.to_checksum_address(child_address(xpub, index, Bip44Coins.ETHEREUM))

    def normalize_address(self, address: str) -> str:
        """EIP-55 checksum form; ValueError when invalid or mis-checksummed."""
        return normalize_address(address)

    def payment_uri(self, address: str, amount: int) -> str:
        """EIP-681 URI asking for ``amount`` base units of the token to ``address``."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValueError("amount must be a non-negative integer of base units")
        to = normalize_address(address)
        return (
            f"ethereum:{self.settings.token}@{self.settings.chain_id}"
            f"/transfer?address={to}&uint256={amount}"
        )

    def confirmed_head(self, head: int) -> int:
        """Newest block with ``confirmations`` blocks (itself included) at ``head``."""
        return head - self.confirmations + 1

    # -- node ---------------------------------------------------------------------

    def decimals(self) -> int:
        """Decimals of the token, read once from the contract and checked against config."""
        if self._decimals is None:
            self._ensure_chain()
            call = {"to": self.settings.token, "data": DECIMALS_SELECTOR}
            raw = bytes(self._request("decimals()", lambda: self.w3.eth.call(call)))
            if len(raw) != 32:
                raise DriverError(f"{self.settings.token} does not answer decimals()")
            value = int.from_bytes(raw, "big")
            configured = self.settings.decimals
            if configured is not None and configured != value:
                raise DriverConfigError(
                    "decimals", f"configured {configured}, but the token says {value}"
                )
            self._decimals = value
        return self._decimals

    def head(self) -> int:
        """Number of the newest block."""
        self._ensure_chain()
        return self._request("eth_blockNumber", lambda: self.w3.eth.block_number)

    def block_hash(self, number: int) -> str | None:
        """0x-prefixed lowercase hash of canonical block ``number``; None if none yet."""
        if number < 0:
            return None
        self._ensure_chain()

        def fetch() -> str | None:
            try:
                return Web3.to_hex(self.w3.eth.get_block(number)["hash"])
            except BlockNotFound:
                return None

        return self._request("eth_getBlockByNumber", fetch)

    def transfers(self, start: int, end: int, match: Matcher | None = None) -> list[Transfer]:
        """Every token Transfer log in blocks ``start..end``, by (block, log index)."""
        if start < 0 or end < start:
            raise ValueError(f"bad block range {start}..{end}")
        self._ensure_chain()
        found: list[Transfer] = []
        cursor = start
        while cursor <= end:
            window_end = min(end, cursor + self.max_block_range - 1)
            found.extend(self._transfers_in(cursor, window_end))
            cursor = window_end + 1
        found.sort(key=lambda t: (t.block_number, t.log_index))
        if match is not None:
            # the logs are already here: filtering saves the caller work, not RPC calls
            wanted = match({t.to_address for t in found})
            found = [t for t in found if t.to_address in wanted]
        return found

    # -- internals ----------------------------------------------------------------

    def _transfers_in(self, start: int, end: int) -> list[Transfer]:
        """All transfers of start..end, splitting the range while the provider refuses it."""
        size = end - start + 1
        try:
            logs = self._get_logs(start, end)
        except _RangeRefused as exc:
            if size == 1:
                raise DriverError(f"eth_getLogs refused even block {start}: {exc}") from None
            split = _suggested_end(str(exc), start, end) or start + size // 2 - 1
            self._success_streak = 0
            self.max_block_range = max(1, min(self.max_block_range, split - start + 1))
            return self._transfers_in(start, split) + self._transfers_in(split + 1, end)
        self._note_success(size)
        token = self.settings.token.lower()
        decoded = (_decode(log) for log in logs if str(log["address"]).lower() == token)
        return [t for t in decoded if t is not None]

    def _get_logs(self, start: int, end: int) -> list[Any]:
        query = {
            "address": self.settings.token,
            "topics": [TRANSFER_TOPIC],
            "fromBlock": start,
            "toBlock": end,
        }
        return self._request("eth_getLogs", lambda: self.w3.eth.get_logs(query))

    def _note_success(self, size: int) -> None:
        """Grow the range hint back slowly after a run of full-size successes."""
        cap = self.settings.max_block_range
        if size < self.max_block_range or self.max_block_range >= cap:
            return
        self._success_streak += 1
        if self._success_streak >= GROW_AFTER:
            self._success_streak = 0
            self.max_block_range = min(
                cap, self.max_block_range + max(1, self.max_block_range // 4)
            )

    def _ensure_chain(self) -> None:
        """Check once that the node serves the configured chain."""
        if self._chain_checked:
            return
        actual = self._request("eth_chainId", lambda: self.w3.eth.chain_id)
        if actual != self.settings.chain_id:
            raise DriverError(
                f"{self.name}: node is on chain {actual}, configured {self.settings.chain_id}"
            )
        self._chain_checked = True

    def _request(self, what: str, call: Callable[[], T]) -> T:
        """Run one node call: quick jittered retries on rate limits, errors as DriverError."""
        for attempt in range(QUICK_RETRIES + 1):
            try:
                return call()
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else None
                if status not in (429, 503):
                    # `from None`: requests' messages carry the URL, which may hold an API key
                    raise DriverError(f"{what}: HTTP {status}") from None
                limited = RateLimited(f"{what}: HTTP {status}", retry_after(exc.response))
            except requests.Timeout:
                raise DriverError(f"{what}: no answer within {self.settings.timeout}s") from None
            except requests.RequestException as exc:
                raise DriverError(f"{what}: {type(exc).__name__}") from None
            except Web3RPCError as exc:
                message = _rpc_message(exc)
                lowered = message.lower()
                if any(p in lowered for p in RATE_LIMIT_ERRORS):
                    limited = RateLimited(f"{what}: {message}")
                elif what == "eth_getLogs" and _is_range_refusal(lowered):
                    raise _RangeRefused(message) from None
                else:
                    raise DriverError(f"{what}: {message}") from exc
            except (Web3Exception, ValueError) as exc:
                raise DriverError(f"{what}: malformed answer ({exc})") from exc
            wait = limited.retry_after
            if attempt == QUICK_RETRIES or (wait is not None and wait > QUICK_RETRY_MAX_WAIT):
                raise limited
            time.sleep(_backoff(attempt, wait))
        raise AssertionError("unreachable")


def _decode(log: Mapping[str, Any]) -> Transfer | None:
    """A Transfer from an ERC-20 Transfer log; None for removed or non-ERC-20 shapes."""
    topics = log["topics"]
    data = bytes(log["data"])
    # ERC-721 Transfer shares topic0 but indexes the token id (4 topics, no data)
    if log.get("removed") or len(topics) != 3 or len(data) != 32:
        return None
    return Transfer(
        tx_hash=Web3.to_hex(log["transactionHash"]),
        log_index=int(log["logIndex"]),
        block_number=int(log["blockNumber"]),
        block_hash=Web3.to_hex(log["blockHash"]),
        from_address=_topic_address(topics[1]),
        to_address=_topic_address(topics[2]),
        amount=int.from_bytes(data, "big"),
        timestamp=_quantity(log.get("blockTimestamp")),
    )


def _quantity(value: Any) -> int | None:
    """An optional JSON-RPC quantity: newer nodes add blockTimestamp to logs, unformatted."""
    if value is None:
        return None
    return int(value, 16) if isinstance(value, str) else int(value)


def _topic_address(topic: bytes) -> str:
    return Web3.to_checksum_address(bytes(topic)[-20:])


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response or {}
    error = response.get("error")
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error or exc.message)


def _is_range_refusal(lowered: str) -> bool:
    if any(p in lowered for p in NOT_A_SIZE_PROBLEM):
        return False
    return any(p in lowered for p in RANGE_REFUSALS)


def _suggested_end(message: str, start: int, end: int) -> int | None:
    """The end of a smaller range the provider proposed ("Try with this block range [a, b]")."""
    lowered = message.lower()
    match = SUGGESTED_HEX_RANGE.search(lowered)
    if match:
        first, last = int(match[1], 16), int(match[2], 16)
    else:
        match = SUGGESTED_DEC_RANGE.search(lowered)
        if not match:
            return None
        first, last = int(match[1]), int(match[2])
    # only trust a proposal that starts where we did and is strictly smaller
    return last if first == start and start <= last < end else None


def _backoff(attempt: int, retry_after: float | None) -> float:
    """Jittered exponential wait, never shorter than the provider asked."""
    delay = BACKOFF_BASE * 2**attempt * random.uniform(0.5, 1.5)
    return min(QUICK_RETRY_MAX_WAIT, max(delay, retry_after or 0.0))
