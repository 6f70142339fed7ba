"""The outbox: events written in the caller's transaction, delivered later by webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.models import Event

TYPES = (
    "order.created",
    "order.confirming",
    "order.paid",
    "order.underpaid",
    "order.overpaid",
    "order.expired",
    "order.cancelled",
    "payment.received",
    "payment.confirmed",
    "payment.reverted",
)


def record(session: Session, merchant_id: str, type_: str, data: dict[str, Any]) -> Event:
    """Add an event to the session; it commits or rolls back with the state change."""
    if type_ not in TYPES:
        raise ValueError(f"unknown event type {type_}")
    event = Event(merchant_id=merchant_id, type=type_, data=data)
    session.add(event)
    return event
