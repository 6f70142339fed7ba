"""Decimal strings at the edge, integers in base units inside. No float touches money."""

from __future__ import annotations

import re

MAX_DECIMALS = 18  # the most any USDT deployment uses (BSC)

_AMOUNT = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")


def to_base_units(text: str, decimals: int) -> int:
    """Parse a plain decimal string such as ``"12.50"``; ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError('must be a decimal string such as "12.50"')
    if len(text) > 100:  # before any int(): Python refuses to parse 4,300+ digits
        raise ValueError("is too long")
    match = _AMOUNT.fullmatch(text)
    if not match:
        raise ValueError('must be a decimal string such as "12.50"')
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > decimals:
        raise ValueError(f"has more than {decimals} decimal places")
    return int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or "0")


def to_decimal_string(units: int, decimals: int) -> str:
    """Format base units as a decimal string without trailing zeros: 12500000, 6 -> "12.5"."""
    if units < 0:
        raise ValueError("base units cannot be negative")
    whole, fraction = divmod(units, 10**decimals)
    text = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    return f"{whole}.{text}" if text else str(whole)
