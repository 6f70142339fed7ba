"""TRC-20 USDT on TRON, read through a full node's HTTP API with tronpy.

One ``gettransactioninfobyblocknum`` per block yields every receipt of that block; the token's
Transfer logs are picked out locally, so a scan costs the same for one open order or ten
thousand. TRON finality follows solidification (2/3 of the witnesses have built on a block),
so ``confirmed_head`` is the solidified head, with ``confirmations`` only as a floor.
Payouts (build, sign, decode, broadcast, status) live in ``sending.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import base58
import requests
from bip_utils import Bip44Coins
from tronpy import Tron
from tronpy.exceptions import (
    ApiError,
    BugInJavaTron,
    TvmError,
    UnknownError,
    ValidationError,
)
from tronpy.providers import HTTPProvider

from plugins.base import (
    Block,
    DriverError,
    Matcher,
    RateLimited,
    Scan,
    Tip,
    Transfer,
    observed,
)
from plugins.hd import child_address
from plugins.http import backoff, retry_after
from plugins.tron.sending import TronPayouts
from plugins.tron.settings import ZERO_OWNER, TronSettings, is_trongrid, normalize_address

log = logging.getLogger(__name__)
T = TypeVar("T")

# What tronpy raises for a node's answer it dislikes, plus the lookups of a malformed reply.
NODE_ANSWER_ERRORS = (
    ValidationError,
    TvmError,
    UnknownError,
    BugInJavaTron,
    KeyError,
    IndexError,
    ValueError,
)

TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
RETRIES = 3  # quick retries inside one call; after that the watcher owns the long wait
BACKOFF_BASE = 0.2
MAX_WAIT = 2.0  # a longer Retry-After is handed to the watcher through RateLimited
RANGE_LIMIT = 100  # java-tron's most blocks per getblockbylimitnext

# Bodies that mean "slow down" rather than "broken" [reference §9].
RATE_LIMIT_TEXTS = (
    "lack of computing resources",
    "exceed the user daily usage",
    "frequency limit",
    "rate exceeded",
    "rate limit",
    "too many requests",
)
RETRY_STATUSES = {429, 503}
TRANSIENT_STATUSES = {500, 502, 504}


class _Transient(DriverError):
    """A failure worth an immediate retry: a timeout, a dropped connection, a 5xx."""


class TronDriver(TronPayouts):
    """The ChainDriver for a TRC-20 token on TRON (mainnet USDT by default in the config)."""

    family: ClassVar[str] = "tron"

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name = name
        self._settings = TronSettings.parse(settings)
        self.confirmations = self._settings.confirmations
        self.max_block_range = self._settings.max_block_range
        self.poll_interval = self._settings.poll_interval
        self._decimals = self._settings.decimals
        # logs name the contract by its 20 bytes in hex, without the 41 prefix [reference §2]
        self._token_hex = base58.b58decode_check(self._settings.token)[1:].hex()
        self.client = Tron(self._provider())
        self.backoff_base = BACKOFF_BASE  # tests shorten the waits

    def __repr__(self) -> str:
        # deliberately without the settings: the API key must not reach a log line
        return f"TronDriver(name={self.name!r}, full_node={self._settings.full_node!r})"

    def _provider(self) -> HTTPProvider:
        """An HTTPProvider that sends the API key to TronGrid and to nobody else."""
        s = self._settings
        on_trongrid = is_trongrid(s.full_node)
        provider = HTTPProvider(
            s.full_node, timeout=s.timeout, api_key=s.api_key if on_trongrid else None
        )
        # tronpy decides by the substring "trongrid" anywhere in the URL and, without a key,
        # falls back to its built-in shared keys; we send only the operator's own key.
        provider.use_api_key = on_trongrid and s.api_key is not None
        return provider

    def token_address(self) -> str:
        """The configured token contract, base58."""
        return self._settings.token

    def derive_address(self, xpub: str, index: int) -> str:
        """Base58 address at m/44'/195'/account'/0/index below the account xpub."""
        return child_address(xpub, index, Bip44Coins.TRON)

    def normalize_address(self, address: str) -> str:
        """Base58 form of a base58 or 41-hex address; ValueError when it is not one."""
        return normalize_address(address)

    def payment_uri(self, address: str, amount: int) -> str:
        """``tron:<address>?token=<contract>&amount=<decimal>`` (amount in token units)."""
        to = normalize_address(address)
        value = _decimal_string(amount, self.decimals())
        return f"tron:{to}?token={self._settings.token}&amount={quote(value)}"

    def decimals(self) -> int:
        """Token decimals from the settings, else ``decimals()`` read once from the chain."""
        if self._decimals is None:
            word = self._request(
                "decimals",
                lambda: self.client.trigger_const_smart_contract_function(
                    ZERO_OWNER, self._settings.token, "decimals()", ""
                ),
            )
            try:
                self._decimals = int(word, 16)
            except (TypeError, ValueError):
                raise DriverError(f"decimals() of {self._settings.token} gave {word!r}") from None
        return self._decimals

    def tip(self) -> Tip:
        """Head and solidified head from one ``getnodeinfo``."""
        info = self._call("wallet/getnodeinfo", {})
        try:
            number, block_id = _num_and_id(info["block"])
            solid, _ = _num_and_id(info["solidityBlock"])
        except (KeyError, TypeError, ValueError):
            raise DriverError("wallet/getnodeinfo: no block numbers in the answer") from None
        confirmed = max(0, min(solid, number - self.confirmations + 1))
        return Tip(number, block_id, confirmed)

    def block(self, number: int) -> Block | None:
        """Header of block ``number``; None when the node has no such block (``{}``)."""
        return _header(self._raw_block(number))

    def scan(self, start: int, end: int, match: Matcher | None = None) -> Scan:
        """Successful token transfers in blocks ``start..end``; all or an exception, never part.

        One ``getblockbylimitnext`` gives every header of the range with its transaction
        ids; then one receipts request per block that has transactions (an empty header
        proves an empty block). Every block's receipts must be exactly its header's
        transactions: receipts from a backend that lacks the block (``[]``) or holds
        another fork of it never pass for the block's.
        """
        if start < 0 or end < start:
            raise ValueError(f"bad block range {start}..{end}")
        headers = self._headers(start, end)
        receipts = {n: self._receipts(n) for n, h in headers.items() if h.get("transactions")}
        for number, found in receipts.items():
            expected = sorted(tx.get("txID", "") for tx in headers[number]["transactions"])
            if sorted(r.get("id", "") for r in found) != expected:
                raise DriverError(f"the receipts of block {number} do not match its header")
        transfers = {n: self._transfers_of(r, n) for n, r in receipts.items()}
        wanted = None
        if match is not None:
            wanted = match({t.to_address for ts in transfers.values() for t in ts})
        result: list[Transfer] = []
        for number in sorted(transfers):
            block = _header(headers[number])
            result.extend(
                replace(t, block_hash=block.hash, timestamp=block.timestamp)
                for t in transfers[number]
                if wanted is None or t.to_address in wanted
            )
        return Scan(result, end=_header(headers[end]), first=_header(headers[start]))

    # ---- internals ----

    def _headers(self, start: int, end: int) -> dict[int, dict[str, Any]]:
        """Blocks ``start..end`` by number, linked parent to child; DriverError if any lacks."""
        headers: dict[int, dict[str, Any]] = {}
        for first in range(start, end + 1, RANGE_LIMIT):
            last = min(end, first + RANGE_LIMIT - 1)
            reply = self._call(
                "wallet/getblockbylimitnext", {"startNum": first, "endNum": last + 1}
            )
            blocks = reply.get("block", []) if isinstance(reply, dict) else []
            for block in blocks:
                header = _header(block)
                if header is not None and first <= header.number <= last:
                    headers[header.number] = block
        missing = [n for n in range(start, end + 1) if n not in headers]
        if missing:
            # a backend behind the provider's balancer lags the one that gave the head
            raise DriverError(f"block {missing[0]} is not available on the node yet")
        for number in range(start + 1, end + 1):
            if _header(headers[number]).parent_hash != headers[number - 1]["blockID"]:
                raise DriverError(f"block {number} changed while being read")
        return headers

    def _raw_block(self, number: int) -> dict[str, Any]:
        block = self._call("wallet/getblockbynum", {"num": number})
        if not isinstance(block, dict):
            raise DriverError(f"wallet/getblockbynum: no block object for {number}")
        return block

    def _receipts(self, number: int) -> list[dict[str, Any]]:
        """The receipts of one block ([] for one the node lacks: the header check sees it)."""
        receipts = self._call("wallet/gettransactioninfobyblocknum", {"num": number})
        if not isinstance(receipts, list):  # {} answers num <= 0 (genesis has no receipts)
            return []
        return receipts

    def _transfers_of(self, receipts: list[dict[str, Any]], number: int) -> list[Transfer]:
        return [t for r in receipts for t in self._decode(r, number)]

    def _decode(self, receipt: Mapping[str, Any], number: int) -> list[Transfer]:
        """The token's Transfer logs of one successful receipt (failed ones carry none)."""
        if (
            receipt.get("result") == "FAILED"
            or receipt.get("receipt", {}).get("result") != "SUCCESS"
        ):
            return []
        out = []
        # log_index is the log's position in this receipt, in execution order: receipts
        # have no block-wide counter. Block hash and time come from the header (see scan).
        for index, entry in enumerate(receipt.get("log", ())):
            topics = entry.get("topics", ())
            if entry.get("address", "").lower() != self._token_hex or len(topics) != 3:
                continue
            if topics[0].lower() != TRANSFER_TOPIC:
                continue
            try:
                out.append(
                    Transfer(
                        tx_hash=receipt["id"],
                        log_index=index,
                        block_number=number,
                        block_hash="",
                        from_address=_topic_address(topics[1]),
                        to_address=_topic_address(topics[2]),
                        amount=int(entry.get("data") or "0", 16),
                        timestamp=0,
                    )
                )
            except (KeyError, ValueError):
                log.warning("tron %s: undecodable Transfer log in %s", self.name, receipt.get("id"))
        return out

    def _call(self, path: str, body: dict[str, Any]) -> Any:
        """``make_request`` with retries; an ``Error`` body becomes a DriverError."""
        reply = self._request(path, lambda: self.client.provider.make_request(path, body))
        if isinstance(reply, dict) and "Error" in reply:
            raise DriverError(f"{path}: {reply['Error']}")
        return reply

    def _request(self, what: str, call: Callable[[], T]) -> T:
        """One node request, reported to the host's observers (metrics) when it ends."""
        return observed(self.name, what, lambda: self._attempts(what, call))

    def _attempts(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call``, retrying rate limits and transient failures with jittered backoff."""
        for attempt in range(RETRIES + 1):
            try:
                reply = call()
            except requests.HTTPError as exc:
                failure = _classify_http(what, exc)
            except (requests.Timeout, requests.ConnectionError) as exc:
                failure = _Transient(f"{what}: node unreachable ({type(exc).__name__})")
            except requests.exceptions.JSONDecodeError:
                raise DriverError(f"{what}: node answered something that is not JSON") from None
            except ApiError as exc:
                failure = _classify_text(what, str(exc))
            except NODE_ANSWER_ERRORS as exc:
                raise DriverError(f"{what}: {type(exc).__name__}: {exc}") from None
            else:
                error = reply.get("Error") if isinstance(reply, dict) else None
                if not (isinstance(error, str) and _is_rate_limit(error)):
                    return reply
                failure = RateLimited(f"{what}: {error}")  # java-tron's own limiter, status 200
            if not isinstance(failure, RateLimited | _Transient) or attempt == RETRIES:
                raise failure
            wait = _backoff(self.backoff_base, attempt, getattr(failure, "retry_after", None))
            if wait is None:  # the provider asked for longer than we wait in-line
                raise failure
            log.info("tron %s: %s, retrying in %.2fs", self.name, failure, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")


def _classify_http(what: str, exc: requests.HTTPError) -> DriverError:
    """RateLimited for 429/503/quota answers, a retryable DriverError for 5xx, else final."""
    response = exc.response
    status = response.status_code if response is not None else 0
    text = response.text[:300] if response is not None else ""
    if status in RETRY_STATUSES or (status == 403 and _is_rate_limit(text)):
        return RateLimited(f"{what}: HTTP {status}", retry_after=retry_after(response))
    if status in TRANSIENT_STATUSES:
        return _Transient(f"{what}: HTTP {status}")
    return DriverError(f"{what}: HTTP {status}")


def _classify_text(what: str, message: str) -> DriverError:
    """tronpy's ApiError: its 'rate limit!' means TronGrid refused the (last) key."""
    if _is_rate_limit(message):
        return RateLimited(f"{what}: {message}")
    return DriverError(f"{what}: {message}")


def _is_rate_limit(text: str) -> bool:
    lowered = text.lower()
    return any(fragment in lowered for fragment in RATE_LIMIT_TEXTS)


def _backoff(base: float, attempt: int, retry_after: float | None) -> float | None:
    """Jittered exponential wait; None when the provider asked for more than MAX_WAIT."""
    if retry_after is not None and retry_after > MAX_WAIT:
        return None
    return backoff(attempt, base, MAX_WAIT, retry_after or 0.0)


def _num_and_id(text: str) -> tuple[int, str]:
    """``"Num:66987565,ID:0000…"`` of getnodeinfo as (number, blockID) [reference §4]."""
    num, _, block_id = text.partition(",ID:")
    if not num.startswith("Num:") or len(block_id) != 64:
        raise ValueError(text)
    return int(num[4:]), block_id


def _header(block: dict[str, Any]) -> Block | None:
    """A Block from a getblockbynum answer; None for ``{}``."""
    if not block.get("blockID"):
        return None
    try:
        raw = block["block_header"]["raw_data"]
        return Block(
            number=int(raw.get("number", 0)),
            hash=block["blockID"],
            parent_hash=raw["parentHash"],
            timestamp=int(raw["timestamp"]) // 1000,
        )
    except (KeyError, TypeError, ValueError):
        raise DriverError("wallet/getblockbynum: malformed block header") from None


def _topic_address(topic: str) -> str:
    """An indexed address topic (12 zero bytes + 20 bytes) as base58."""
    if len(topic) != 64:
        raise ValueError("address topic must be 32 bytes")
    return base58.b58encode_check(bytes.fromhex("41" + topic[-40:])).decode()


def _decimal_string(amount: int, decimals: int) -> str:
    """``amount`` base units as an exact decimal string, e.g. 1500000, 6 → "1.5"."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError("amount must be a non-negative integer of base units")
    whole, frac = divmod(amount, 10**decimals)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"
