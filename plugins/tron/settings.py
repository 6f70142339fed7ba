"""Settings of one TRON network and TRON address forms, validated when the driver is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import base58

from plugins.base import DriverConfigError

KNOWN_KEYS = {
    "full_node",
    "api_key",
    "token",
    "confirmations",
    "max_block_range",
    "poll_interval",
    "decimals",
    "timeout",
    "fee_limit",
    "expiration_seconds",
}
ZERO_OWNER = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb"  # 41 + 20 zero bytes: a read-only caller
CORE_KEYS = {"driver", "enabled"}  # passed by the core, not ours to judge
MAX_FEE_LIMIT = 15_000_000_000  # java-tron refuses a larger fee_limit (mainnet: 15,000 TRX)
# java-tron refuses an expiration more than a day after its head [Constant
# MAXIMUM_TIME_UNTIL_EXPIRATION]; the margin covers the build-to-broadcast time and clock skew
MAX_EXPIRATION_SECONDS = 86_400 - 400


def normalize_address(address: str) -> str:
    """Base58check ``T…`` form of a base58 or 41-hex TRON address; ValueError otherwise."""
    if not isinstance(address, str):
        raise ValueError("a TRON address must be a string")
    text = address.strip()
    if len(text) == 42 and text[:2] == "41":
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"not a TRON address: {address!r}") from None
        return base58.b58encode_check(raw).decode()
    if len(text) == 34 and text[0] == "T":
        try:
            raw = base58.b58decode_check(text)
        except ValueError:
            raise ValueError(f"bad checksum in TRON address: {address!r}") from None
        if len(raw) == 21 and raw[0] == 0x41:
            return text
    raise ValueError(f"not a TRON address: {address!r}")


def is_trongrid(url: str) -> bool:
    """Whether ``url`` points at TronGrid, the only host that may see the API key."""
    host = (urlsplit(url).hostname or "").lower()
    return host == "trongrid.io" or host.endswith(".trongrid.io")


@dataclass(frozen=True, slots=True)
class TronSettings:
    """Validated settings of one TRON network."""

    full_node: str
    token: str
    api_key: str | None = None
    confirmations: int = 19
    max_block_range: int = 100
    decimals: int | None = None
    timeout: float = 10.0
    # twelve 3-second blocks a look: a tip, one range of headers and one receipts request per
    # block cost 1.17 requests a block, within a free TronGrid key's daily budget
    poll_interval: float = 36.0
    #: The most sun a payout's energy may burn (a USDT transfer: 14,650-29,650 energy).
    fee_limit: int = 30_000_000
    #: How long a built payout stays valid (java-tron's own default is 60 s after the head).
    expiration_seconds: int = 600

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> TronSettings:
        """Check every key; DriverConfigError names the first bad one."""
        for key in settings:
            if key not in KNOWN_KEYS | CORE_KEYS:
                raise DriverConfigError(key, "unknown setting for the tron driver")
        url = settings.get("full_node")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise DriverConfigError("full_node", "an http(s) URL of a TRON full node is required")
        api_key = settings.get("api_key")
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise DriverConfigError("api_key", "must be a non-empty string")  # never echo it
        try:
            token = normalize_address(settings.get("token", ""))
        except ValueError:
            raise DriverConfigError("token", "a TRC-20 contract address (T…) is required") from None
        decimals = settings.get("decimals")
        if decimals is not None:
            decimals = _int(settings, "decimals", 0, 0, 77)
        timeout = _seconds(settings, "timeout", 10.0)
        poll_interval = _seconds(settings, "poll_interval", 36.0)
        return cls(
            full_node=url if url.endswith("/") else url + "/",  # urljoin keeps a base path
            token=token,
            api_key=api_key.strip() if api_key else None,
            confirmations=_int(settings, "confirmations", 19, 1, 10_000),
            max_block_range=_int(settings, "max_block_range", 100, 1, 10_000),
            decimals=decimals,
            timeout=timeout,
            poll_interval=poll_interval,
            fee_limit=_int(settings, "fee_limit", 30_000_000, 1, MAX_FEE_LIMIT),
            expiration_seconds=_int(
                settings, "expiration_seconds", 600, 60, MAX_EXPIRATION_SECONDS
            ),
        )


def _seconds(settings: Mapping[str, Any], key: str, default: float) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DriverConfigError(key, "must be a positive number of seconds")
    return float(value)


def _int(settings: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DriverConfigError(key, f"must be an integer from {low} to {high}")
    return value
