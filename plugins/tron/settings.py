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
    "decimals",
    "timeout",
}
CORE_KEYS = {"driver", "enabled"}  # passed by the core, not ours to judge


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
    max_block_range: int = 20
    decimals: int | None = None
    timeout: float = 10.0

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
        timeout = settings.get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise DriverConfigError("timeout", "must be a positive number of seconds")
        return cls(
            full_node=url if url.endswith("/") else url + "/",  # urljoin keeps a base path
            token=token,
            api_key=api_key.strip() if api_key else None,
            confirmations=_int(settings, "confirmations", 19, 1, 10_000),
            max_block_range=_int(settings, "max_block_range", 20, 1, 10_000),
            decimals=decimals,
            timeout=float(timeout),
        )


def _int(settings: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DriverConfigError(key, f"must be an integer from {low} to {high}")
    return value
