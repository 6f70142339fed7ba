"""Checks on a new order's input that need the chain: amount precision, limits, expiry."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from gateway.core.models import utcnow
from gateway.core.money import MAX_DECIMALS, to_base_units
from gateway.core.orders import NewOrder
from gateway.web.chains import drivers
from gateway.web.errors import fail, field_error
from plugins.base import ChainDriver, DriverError


def parse_new_order(body: dict[str, Any], settings: dict[str, Any]) -> tuple[ChainDriver, NewOrder]:
    """Turn validated JSON into a NewOrder, or a 4xx naming the field at fault."""
    available = drivers()
    driver = available.get(body["chain"])
    if driver is None:
        names = ", ".join(sorted(available)) or "none"
        field_error("chain", f"unknown or disabled chain (enabled: {names})")
    try:
        decimals = driver.decimals()
    except DriverError:
        fail(503, "chain_unavailable", f"the {driver.name} node cannot be reached; retry later")
    amount = _amount(body["amount"], decimals, settings["max_amount"])
    metadata = body["metadata"]
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > settings["max_metadata_bytes"]:
        field_error("metadata", f"larger than {settings['max_metadata_bytes']} bytes as JSON")
    max_seconds = settings["max_expiry_minutes"] * 60
    seconds = body.get("expires_in", settings["default_expiry_minutes"] * 60)
    if seconds > max_seconds:
        field_error("expires_in", f"at most {max_seconds} seconds")
    return driver, NewOrder(
        chain=body["chain"],
        amount=amount,
        reference=body["reference"],
        metadata=metadata,
        expires_at=utcnow() + timedelta(seconds=seconds),
    )


def _amount(text: str, decimals: int, max_amount: str) -> int:
    try:
        amount = to_base_units(text, decimals)
    except ValueError as exc:
        field_error("amount", str(exc))
    if amount <= 0:
        field_error("amount", "must be greater than zero")
    # compared at 18 decimals: the configured maximum may be finer than this token
    if amount * 10 ** (MAX_DECIMALS - decimals) > to_base_units(max_amount, MAX_DECIMALS):
        field_error("amount", f"larger than the maximum of {max_amount}")
    return amount
