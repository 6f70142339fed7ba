"""One request as a servlet sees it, and the bad-input error java-tron answers with 200."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import base58
from tronpy.keys import keccak256

Response = tuple[int, bytes]
PARSE_ERROR = "class org.tron.core.services.http.JsonFormat$ParseException : "


class BadRequest(Exception):
    """Input java-tron rejects with a 200 ``{"Error": ...}`` body."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request: method, body/query parameters and the solidity flag of its prefix."""

    method: str
    params: dict[str, Any]
    query: dict[str, str]
    solid: bool

    @property
    def visible(self) -> bool:
        """POST reads ``visible`` from the body, GET from the query [SRC §0]."""
        if self.method == "GET":
            return self.query.get("visible", "").lower() == "true"
        return self.params.get("visible") is True

    def number(self, key: str) -> int:
        """An int64 parameter; absent means 0 (proto default) [SRC §1]."""
        raw = self.params.get(key, 0)
        if self.method == "GET":
            try:
                return int(raw)
            except ValueError:
                raise BadRequest(
                    f'class java.lang.NumberFormatException : For input string: "{raw}"'
                ) from None
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise BadRequest(f"{PARSE_ERROR}Expected an integer for {key}")
        return raw

    def hex_value(self, key: str) -> str:
        """A bytes parameter given in hex, like a blockID or a txID."""
        raw = str(self.params.get(key, ""))
        try:
            return bytes.fromhex(raw).hex()
        except ValueError:
            raise BadRequest(f"{PARSE_ERROR}INVALID hex String") from None

    def address(self, key: str) -> bytes:
        """An address: base58check when visible, 41-hex otherwise [SRC §0]."""
        raw = str(self.params.get(key, ""))
        try:
            return base58.b58decode_check(raw) if self.visible else bytes.fromhex(raw)
        except ValueError:
            raise BadRequest(f"{PARSE_ERROR}INVALID address {raw}") from None


def call_data(call: Call) -> bytes:
    """``data``, or the selector's keccak prefix followed by ``parameter`` [SRC §5]."""
    if call.params.get("data"):
        return bytes.fromhex(call.hex_value("data"))
    selector = keccak256(str(call.params.get("function_selector", "")).encode())[:4]
    return selector + bytes.fromhex(call.hex_value("parameter"))
