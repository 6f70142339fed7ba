"""Decoding raw JSON-RPC answers: every value the drivers rely on is checked here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.base import Block

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


def is_rate_limit(message: str) -> bool:
    """Whether a JSON-RPC error message asks us to slow down."""
    lowered = message.lower()
    return any(p in lowered for p in RATE_LIMIT_ERRORS)


class RpcError(Exception):
    """The node answered a JSON-RPC error object."""


def result_of(reply: Any) -> Any:
    """The ``result`` of one JSON-RPC answer; RpcError for an ``error`` answer."""
    if not isinstance(reply, Mapping):
        raise ValueError("a JSON-RPC answer must be an object")
    error = reply.get("error")
    if error is not None:
        message = error.get("message", error) if isinstance(error, Mapping) else error
        raise RpcError(str(message))
    if "result" not in reply:
        raise ValueError("a JSON-RPC answer without result")
    return reply["result"]


def block_of(header: Any) -> Block | None:
    """A Block from a raw ``eth_getBlockByNumber`` answer (None for ``null``)."""
    if header is None:
        return None
    return Block(
        number=quantity(header["number"]),
        hash=hash32(header["hash"]),
        parent_hash=hash32(header["parentHash"]),
        timestamp=quantity(header["timestamp"]),
    )


def quantity(value: Any) -> int:
    """A JSON-RPC quantity ("0x1a"); ValueError for anything else."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"not a quantity: {value!r}")
    return int(value, 16)


def hash32(value: Any) -> str:
    """A 32-byte hash as 0x-prefixed lower-case hex."""
    raw = hex_bytes(value)
    if len(raw) != 32:
        raise ValueError(f"not a 32-byte hash: {value!r}")
    return "0x" + raw.hex()


def hex_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"not hex data: {value!r}")
    return bytes.fromhex(value[2:])


def as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"not a list: {type(value).__name__}")
    return value
