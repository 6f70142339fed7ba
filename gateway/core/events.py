"""The outbox: events written in the caller's transaction, delivered later by webhooks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core import logs
from gateway.core.models import Event

#: The shape of every event body (API, stream and webhook); changes only with a new version.
API_VERSION = "v1"
# Session.info key: merchants whose events the session's transaction wrote (see live.py)
WRITTEN = "events.merchants"

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
    "payout.created",
    "payout.approved",
    "payout.cancelled",
    "payout.broadcast",
    "payout.confirmed",
    "payout.failed",
    "payout.reverted",
    "payout_wallet.deposit",
    "payout_wallet.low_gas",
    # a test sent from the dashboard to one endpoint; it reports no change
    "ping",
)


def record(session: Session, merchant_id: str, type_: str, data: dict[str, Any]) -> Event:
    """Add an event to the session; it commits or rolls back with the state change."""
    if type_ not in TYPES:
        raise ValueError(f"unknown event type {type_}")
    event = Event(merchant_id=merchant_id, type=type_, data=data, request_id=logs.request_id.get())
    session.add(event)
    session.info.setdefault(WRITTEN, set()).add(merchant_id)
    return event


_INSERT = sa.insert(Event.__table__)


def insert(session: Session, merchant_id: str, type_: str, data: dict[str, Any]) -> None:
    """Write an event at once in the session's transaction, with Core: for hot paths, where
    the ORM's flush of a new object costs several times the INSERT itself."""
    if type_ not in TYPES:
        raise ValueError(f"unknown event type {type_}")
    # id and created_at come from the columns' defaults, as with record()
    values = {"merchant_id": merchant_id, "type": type_, "data": data}
    session.connection().execute(_INSERT, {**values, "request_id": logs.request_id.get()})
    session.info.setdefault(WRITTEN, set()).add(merchant_id)
