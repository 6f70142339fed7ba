"""Events outlive nothing: past ``[events] retention_days`` they go, with their delivery logs."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import Event, utcnow
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus

BATCH = 1000


def purge_events(
    session: Session, retention_days: int, now: datetime | None = None, batch: int = BATCH
) -> int:
    """Delete up to ``batch`` events older than the retention; events rows deleted.

    An event whose delivery is still pending (a redeliver of an old one) stays until it is
    done: the worker would have nothing to send.
    """
    if not retention_days:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    pending = sa.select(Delivery.event_id).where(Delivery.status == DeliveryStatus.PENDING)
    ids = list(
        session.scalars(
            sa.select(Event.id)
            .where(Event.created_at < cutoff, Event.id.not_in(pending))
            .order_by(Event.seq)
            .limit(batch)
        )
    )
    if not ids:
        return 0
    doomed = sa.select(Delivery.id).where(Delivery.event_id.in_(ids))
    # explicit, not by ON DELETE CASCADE: SQLite enforces foreign keys only when asked
    session.execute(sa.delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(doomed)))
    session.execute(sa.delete(Delivery).where(Delivery.event_id.in_(ids)))
    return session.execute(sa.delete(Event).where(Event.id.in_(ids))).rowcount
