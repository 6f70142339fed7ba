"""ERC-20 USDT on any EVM chain, read through one JSON-RPC endpoint with web3.py.

One ``eth_getLogs`` per block range (token address + Transfer topic) finds every transfer;
the core matches recipients locally, so the cost does not grow with the number of orders.
Answers are decoded from the raw JSON-RPC, so every field the watcher relies on is checked.
Payouts (build, sign, decode, broadcast, status) live in ``sending.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

import requests
from bip_utils import Bip44Coins
from web3 import Web3
from web3.exceptions import Web3Exception

from plugins.base import (
    Block,
    DriverConfigError,
    DriverError,
    Matcher,
    RateLimited,
    Scan,
    Tip,
    Transfer,
    observed,
)
from plugins.evm.rpc import (
    RpcError,
    as_list,
    block_of,
    hash32,
    hex_bytes,
    is_rate_limit,
    quantity,
    result_of,
)
from plugins.evm.sending import EvmPayouts
from plugins.evm.settings import EvmSettings, normalize_address
from plugins.hd import child_address
from plugins.http import backoff, retry_after

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
# Said about a block beyond the head: a smaller range would not help.
NOT_A_SIZE_PROBLEM = ("beyond current head", "after last accepted block", "invalid block range")

# a log without blockTimestamp (older nodes) until its block's header is read
_NO_TIMESTAMP = -1

SUGGESTED_HEX_RANGE = re.compile(r"\[\s*(0x[0-9a-f]+)\s*,\s*(0x[0-9a-f]+)\s*\]")
SUGGESTED_DEC_RANGE = re.compile(r"range (\d+)\s*-\s*(\d+)")


class _RangeRefused(DriverError):
    """The provider refused an eth_getLogs range as too large."""


class EvmDriver(EvmPayouts):
    """Chain driver for an ERC-20 token (USDT) on one EVM network."""

    family: ClassVar[str] = "evm"

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name = name
        self.settings = EvmSettings.parse(settings)
        self.confirmations = self.settings.confirmations
        # shrinks when a provider refuses a range, grows back towards the configured cap
        self.max_block_range = self.settings.max_block_range
        self.poll_interval = self.settings.poll_interval
        self._success_streak = 0
        self._decimals: int | None = None
        self._chain_checked = False
        # raw JSON-RPC through web3's provider: answers are decoded here, so no middleware
        # (PoA chains' long extraData included) stands between the node and the checks
        self._provider = Web3.HTTPProvider(
            self.settings.rpc_url,
            request_kwargs={"timeout": self.settings.timeout},
            # web3's own retries would hide 429s from us and sleep without jitter
            exception_retry_configuration=None,
        )

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

    # -- node ---------------------------------------------------------------------

    def decimals(self) -> int:
        """Decimals of the token, read once from the contract and checked against config."""
        if self._decimals is None:
            self._ensure_chain()
            call = {"to": self.settings.token, "data": DECIMALS_SELECTOR}
            raw = hex_bytes(self._call("eth_call", [call, "latest"]))
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

    def tip(self) -> Tip:
        """The newest block: one ``eth_getBlockByNumber("latest")`` gives number and hash."""
        self._ensure_chain()
        head = block_of(self._call("eth_getBlockByNumber", ["latest", False]))
        if head is None:
            raise DriverError("eth_getBlockByNumber: the node has no latest block")
        return Tip(head.number, head.hash, head.number - self.confirmations + 1)

    def block(self, number: int) -> Block | None:
        """Header of canonical block ``number``; None if the node has none yet."""
        if number < 0:
            return None
        self._ensure_chain()
        return block_of(self._call("eth_getBlockByNumber", [hex(number), False]))

    def scan(self, start: int, end: int, match: Matcher | None = None) -> Scan:
        """Every token Transfer log in blocks ``start..end``, by (block, log index)."""
        if start < 0 or end < start:
            raise ValueError(f"bad block range {start}..{end}")
        self._ensure_chain()
        found: list[Transfer] = []
        cursor, first, last = start, None, None
        while cursor <= end:
            window_end = min(end, cursor + self.max_block_range - 1)
            logs, head, last = self._transfers_in(cursor, window_end)
            first = first or head
            found.extend(logs)
            cursor = window_end + 1
        found.sort(key=lambda t: (t.block_number, t.log_index))
        if match is not None:
            # the logs are already here: filtering saves the caller work, not RPC calls
            wanted = match({t.to_address for t in found})
            found = [t for t in found if t.to_address in wanted]
        return Scan(self._stamped(found, last), end=last, first=first)

    # -- internals ----------------------------------------------------------------

    def _transfers_in(self, start: int, end: int) -> tuple[list[Transfer], Block, Block]:
        """All transfers of start..end and the headers of ``start`` and ``end``, all from
        the same backend.

        Behind a load balancer each request may reach another node, and a node that lacks
        the newest blocks answers eth_getLogs for them with nothing. The calls travel in
        one batch, one HTTP request, so the end's header proves that the node answering the
        logs had the range's last block, and so every block of the range.
        """
        size = end - start + 1
        query = {
            "address": self.settings.token,
            "topics": [TRANSFER_TOPIC],
            "fromBlock": hex(start),
            "toBlock": hex(end),
        }
        calls = [("eth_getLogs", [query]), ("eth_getBlockByNumber", [hex(end), False])]
        if start != end:
            calls.append(("eth_getBlockByNumber", [hex(start), False]))
        try:
            logs, header, *first = self._batch("eth_getLogs", calls)
        except _RangeRefused as exc:
            if size == 1:
                raise DriverError(f"eth_getLogs refused even block {start}: {exc}") from None
            split = _suggested_end(str(exc), start, end) or start + size // 2 - 1
            self._success_streak = 0
            self.max_block_range = max(1, min(self.max_block_range, split - start + 1))
            head, opening, _ = self._transfers_in(start, split)
            rest, _, closing = self._transfers_in(split + 1, end)
            return head + rest, opening, closing
        last = block_of(header)
        opening = block_of(first[0]) if first else last
        if last is None or opening is None:
            raise DriverError(f"block {end} is not available on the node yet")
        self._note_success(size)
        token = self.settings.token.lower()
        decoded = [
            _decode(log)
            for log in as_list(logs)
            if str(log.get("address", "")).lower() == token and not log.get("removed")
        ]
        transfers = [t for t in decoded if t is not None]
        if any(t.block_number == end and t.block_hash != last.hash for t in transfers):
            raise DriverError(f"block {end} changed while being read")
        return transfers, opening, last

    def _stamped(self, transfers: list[Transfer], last: Block) -> list[Transfer]:
        """Give every transfer its block's time; older nodes leave blockTimestamp off logs."""
        known = {last.number: last}
        stamped = []
        for t in transfers:
            if t.timestamp != _NO_TIMESTAMP:
                stamped.append(t)
                continue
            if t.block_number not in known:
                header = self.block(t.block_number)
                if header is None or header.hash != t.block_hash:
                    raise DriverError(f"block {t.block_number} changed while being read")
                known[t.block_number] = header
            stamped.append(replace(t, timestamp=known[t.block_number].timestamp))
        return stamped

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
        actual = quantity(self._call("eth_chainId", []))
        if actual != self.settings.chain_id:
            raise DriverError(
                f"{self.name}: node is on chain {actual}, configured {self.settings.chain_id}"
            )
        self._chain_checked = True

    def _call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call's result, through the retry and error rules of ``_request``."""
        return self._request(method, lambda: result_of(self._provider.make_request(method, params)))

    def _batch(self, what: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request (so one backend answers them all)."""

        def run() -> list[Any]:
            replies = self._provider.make_batch_request(calls)
            if not isinstance(replies, list):  # one error object answers the whole batch
                result_of(replies)
            if len(replies) != len(calls):
                raise ValueError(f"{len(replies)} answers to {len(calls)} calls")
            return [result_of(reply) for reply in replies]

        return self._request(what, run)

    def _request(self, what: str, call: Callable[[], T]) -> T:
        """One node request, reported to the host's observers (metrics) when it ends."""
        return observed(self.name, what, lambda: self._attempts(what, call))

    def _attempts(self, what: str, call: Callable[[], T]) -> T:
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
            except RpcError as exc:
                message = str(exc)
                lowered = message.lower()
                if is_rate_limit(lowered):
                    limited = RateLimited(f"{what}: {message}")
                elif what == "eth_getLogs" and _is_range_refusal(lowered):
                    raise _RangeRefused(message) from None
                else:
                    raise DriverError(f"{what}: {message}") from None
            except (Web3Exception, ValueError, TypeError, KeyError, AttributeError) as exc:
                raise DriverError(f"{what}: malformed answer ({exc})") from None
            wait = limited.retry_after
            if attempt == QUICK_RETRIES or (wait is not None and wait > QUICK_RETRY_MAX_WAIT):
                raise limited
            time.sleep(backoff(attempt, BACKOFF_BASE, QUICK_RETRY_MAX_WAIT, wait or 0.0))
        raise AssertionError("unreachable")


def _decode(log: Mapping[str, Any]) -> Transfer | None:
    """A Transfer from a raw ERC-20 Transfer log; None for other shapes."""
    topics = as_list(log["topics"])
    data = hex_bytes(log["data"])
    # ERC-721 Transfer shares topic0 but indexes the token id (4 topics, no data)
    if len(topics) != 3 or len(data) != 32 or str(topics[0]).lower() != TRANSFER_TOPIC:
        return None
    stamp = log.get("blockTimestamp")
    return Transfer(
        tx_hash=hash32(log["transactionHash"]),
        log_index=quantity(log["logIndex"]),
        block_number=quantity(log["blockNumber"]),
        block_hash=hash32(log["blockHash"]),
        from_address=_topic_address(topics[1]),
        to_address=_topic_address(topics[2]),
        amount=int.from_bytes(data, "big"),
        timestamp=_NO_TIMESTAMP if stamp is None else quantity(stamp),
    )


def _topic_address(topic: Any) -> str:
    return Web3.to_checksum_address(hex_bytes(topic)[-20:])


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
