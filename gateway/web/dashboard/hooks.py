"""The dashboard's look at webhooks: endpoints in trouble, an order's deliveries, the
delivery log, and the test ``ping``. No Flask here: functions take a Session."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from gateway.core.models import Event, new_id, utcnow
from gateway.core.schemas import PING
from webhooks.models import Delivery, WebhookEndpoint

LOG_PAGE = 50


def endpoints(session: Session, merchant_id: str) -> list[WebhookEndpoint]:
    """The merchant's endpoints, newest first."""
    return list(
        session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.merchant_id == merchant_id)
            .order_by(WebhookEndpoint.seq.desc())
        )
    )


def failing(session: Session, merchant_id: str) -> list[WebhookEndpoint]:
    """Endpoints whose deliveries fail for good, or that are disabled."""
    return [e for e in endpoints(session, merchant_id) if e.failing_since or not e.enabled]


def endpoint(session: Session, merchant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    """The merchant's endpoint; None for another merchant's."""
    return session.scalar(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.merchant_id == merchant_id
        )
    )


def delivery(session: Session, merchant_id: str, delivery_id: str) -> Delivery | None:
    """The merchant's delivery with its attempts; None for another merchant's."""
    return session.scalar(
        sa.select(Delivery)
        .where(Delivery.id == delivery_id, Delivery.merchant_id == merchant_id)
        .options(selectinload(Delivery.attempts))
    )


def deliveries(
    session: Session,
    merchant_id: str,
    event_ids: Sequence[str] | None = None,
    endpoint_id: str | None = None,
    status: str | None = None,
    limit: int = LOG_PAGE,
) -> list[tuple[Delivery, Event]]:
    """Deliveries newest first, with their events and attempts."""
    query = (
        sa.select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.merchant_id == merchant_id)
        .options(selectinload(Delivery.attempts))
        .order_by(Delivery.seq.desc())
        .limit(limit)
    )
    if event_ids is not None:
        query = query.where(Delivery.event_id.in_(list(event_ids)))
    if endpoint_id:
        query = query.where(Delivery.endpoint_id == endpoint_id)
    if status:
        query = query.where(Delivery.status == status)
    return [(row.Delivery, row.Event) for row in session.execute(query)]


def ping(session: Session, target: WebhookEndpoint, message: str) -> Delivery:
    """Send a ``ping`` event to this endpoint only, whatever it subscribes to.

    The event is written as dispatched, so the outbox gives it to no other endpoint; its
    one delivery is due now, and a worker's sweep sends it like any other.
    """
    now = utcnow()
    data = PING.dump({"endpoint_id": target.id, "message": message, "sent_at": now})
    event = Event(
        id=new_id("evt"),
        merchant_id=target.merchant_id,
        type="ping",
        data=data,
        created_at=now,
        dispatched_at=now,
    )
    session.add(event)
    found = Delivery(
        merchant_id=target.merchant_id,
        event_id=event.id,
        endpoint_id=target.id,
        next_attempt_at=now,
    )
    session.add(found)
    session.flush()
    return found
