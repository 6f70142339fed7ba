"""Settings of one EVM network, validated when the driver is built."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from plugins.base import DriverConfigError

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

KNOWN_KEYS = {
    "rpc_url",
    "chain_id",
    "token",
    "confirmations",
    "max_block_range",
    "decimals",
    "timeout",
    "poll_interval",
    "driver",
    "enabled",
}


@dataclass(frozen=True, slots=True)
class EvmSettings:
    """Validated settings of one EVM network."""

    rpc_url: str
    chain_id: int
    token: str
    confirmations: int = 12
    max_block_range: int = 2000
    decimals: int | None = None
    timeout: float = 10.0
    poll_interval: float | None = None  # None: the watcher's global poll interval

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> EvmSettings:
        """Check every key of ``settings``; DriverConfigError names the first bad one."""
        for key in settings:
            if key not in KNOWN_KEYS:
                raise DriverConfigError(key, "unknown setting")
        for key in ("rpc_url", "chain_id", "token"):
            if settings.get(key) is None:
                raise DriverConfigError(key, "required")
        rpc_url = settings["rpc_url"]
        if not isinstance(rpc_url, str) or not rpc_url.startswith(("http://", "https://")):
            raise DriverConfigError("rpc_url", "must be an http:// or https:// URL")
        try:
            token = normalize_address(settings["token"])
        except ValueError as exc:
            raise DriverConfigError("token", str(exc)) from None
        decimals = settings.get("decimals")
        return cls(
            rpc_url=rpc_url,
            chain_id=_int_setting(settings, "chain_id", None, minimum=1),
            token=token,
            confirmations=_int_setting(settings, "confirmations", 12, minimum=1),
            max_block_range=_int_setting(settings, "max_block_range", 2000, minimum=1),
            decimals=None if decimals is None else _int_setting(settings, "decimals", 0),
            timeout=_seconds_setting(settings, "timeout", 10.0),
            poll_interval=(
                None
                if settings.get("poll_interval") is None
                else _seconds_setting(settings, "poll_interval", None)
            ),
        )


def _int_setting(
    settings: Mapping[str, Any], key: str, default: int | None, minimum: int = 0
) -> int:
    value = settings.get(key, default)
    # bool is an int in Python; `confirmations = true` is a typo, not 1
    if not isinstance(value, int) or isinstance(value, bool):
        raise DriverConfigError(key, "must be an integer")
    if value < minimum:
        raise DriverConfigError(key, f"must be at least {minimum}")
    return value


def _seconds_setting(settings: Mapping[str, Any], key: str, default: float | None) -> float:
    value = settings.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise DriverConfigError(key, "must be a positive number of seconds")
    return float(value)


def normalize_address(address: str) -> str:
    """EIP-55 checksum form of ``address``; ValueError when invalid or mis-checksummed."""
    if not isinstance(address, str) or not ADDRESS.fullmatch(address.strip()):
        raise ValueError("not an EVM address (0x and 40 hex digits)")
    address = address.strip()
    body = address[2:]
    # all-lower or all-upper carries no checksum; mixed case must be a correct one
    if body in (body.lower(), body.upper()):
        return Web3.to_checksum_address(address)
    if not Web3.is_checksum_address(address):
        raise ValueError("address checksum does not match (mistyped?)")
    return address  # already the checksum form: no second hash (every order's URI asks)
