"""Stored first answers of Idempotency-Keys live for a retention time, then go."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import IdempotencyKey, utcnow

#: How long a key replays its first answer: Stripe's 24 hours. Later the same key is a
#: new request, whether or not the purge has run yet.
RETENTION = timedelta(hours=24)


def expired(created_at: datetime, now: datetime | None = None) -> bool:
    """Whether an answer stored at ``created_at`` is past the retention."""
    return created_at < (now or utcnow()) - RETENTION


def purge(session: Session, retention: timedelta = RETENTION, now: datetime | None = None) -> int:
    """Delete the stored answers older than ``retention``; how many went."""
    cutoff = (now or utcnow()) - retention
    result = session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return result.rowcount or 0
