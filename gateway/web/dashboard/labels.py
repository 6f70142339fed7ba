"""Words for the states the database stores as codes, in the reader's language."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l

LABELS = {
    # orders
    "pending": _l("pending"),
    "confirming": _l("confirming"),
    "paid": _l("paid"),
    "expired": _l("expired"),
    "cancelled": _l("cancelled"),
    # payments
    "confirmed": _l("confirmed"),
    "reverted": _l("reverted"),
    # deliveries
    "succeeded": _l("succeeded"),
    "failed": _l("failed"),
    # payouts
    "awaiting_approval": _l("awaiting approval"),
    "approved": _l("approved"),
    "broadcast": _l("broadcast"),
    # roles
    "owner": _l("owner"),
    "operator": _l("operator"),
    "viewer": _l("viewer"),
    # order flags
    "underpaid": _l("underpaid"),
    "overpaid": _l("overpaid"),
    "late": _l("late"),
}


def label(code: str | None) -> str:
    """The reader's word for a stored state; unknown codes are shown as they are."""
    return "" if code is None else str(LABELS.get(code, code))


def units(amount: int, decimals: int | None) -> Decimal:
    """Base units as USDT (exact: a Decimal, never a float)."""
    return Decimal(amount).scaleb(-(decimals or 0))
