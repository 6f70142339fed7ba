"""From outbox to queue: events become deliveries, due deliveries become RQ jobs.

The database is the record. Redis only holds a hint that a job should run soon: if
Redis is down or loses a job, the sweep finds the delivery still due and enqueues it
again; a job that finds its delivery already claimed or done does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import redis
import sqlalchemy as sa
from rq.job import Job, JobStatus

from gateway.core.models import Event, new_id, utcnow
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint, subscribes
from webhooks.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 500
# a job enqueued this recently is assumed to be waiting in Redis, not lost
ENQUEUE_GRACE = timedelta(seconds=30)
JOB_FUNCTION = "webhooks.jobs.deliver"
_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


_events = Event.__table__
_endpoints = WebhookEndpoint.__table__
_deliveries = Delivery.__table__


_UNDISPATCHED = sa.select(_events.c.seq).where(_events.c.dispatched_at.is_(None)).limit(1)


def dispatch(rt: Runtime, limit: int = BATCH) -> list[str]:
    """Turn undispatched events into one delivery per subscribed enabled endpoint."""
    # an idle pass only reads: on SQLite a write transaction would take the write lock from
    # the delivery jobs every dispatch_interval, in every worker
    with rt.engine.connect() as conn:
        if conn.execute(_UNDISPATCHED).first() is None:
            return []
    # Core, not the ORM: a batch is a few statements, not hundreds of tracked objects
    with rt.engine.begin() as conn:
        query = (
            sa.select(_events.c.id, _events.c.merchant_id, _events.c.type)
            .where(_events.c.dispatched_at.is_(None))
            .order_by(_events.c.seq)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            # several dispatchers may run; each takes different events
            query = query.with_for_update(skip_locked=True)
        events = conn.execute(query).all()
        if not events:
            return []
        endpoints = conn.execute(
            sa.select(_endpoints.c.id, _endpoints.c.merchant_id, _endpoints.c.event_types).where(
                _endpoints.c.merchant_id.in_({event.merchant_id for event in events}),
                _endpoints.c.enabled.is_(True),
            )
        ).all()
        now = utcnow()
        deliveries = [
            {
                "id": new_id("dlv"),
                "merchant_id": event.merchant_id,
                "event_id": event.id,
                "endpoint_id": endpoint.id,
                "next_attempt_at": now,
            }
            for event in events
            for endpoint in endpoints
            if endpoint.merchant_id == event.merchant_id
            and subscribes(endpoint.event_types, event.type)
        ]
        if deliveries:
            conn.execute(sa.insert(_deliveries), deliveries)
        conn.execute(
            sa.update(_events)
            .where(_events.c.id.in_([event.id for event in events]))
            .values(dispatched_at=now)
        )
        return [delivery["id"] for delivery in deliveries]


def job_id(delivery_id: str, enqueued_at: datetime) -> str:
    """The RQ job id of the push of a delivery stamped ``enqueued_at``: new for every push."""
    # Never the bare delivery id: a push under the id of a run still going (one dispatcher
    # per worker process, and a delivery is due again as soon as its attempt is recorded)
    # rewrote that run's job, and the run's end deleted it: the push was lost.
    return f"{delivery_id}-{(enqueued_at - _EPOCH) // _MICROSECOND}"


def enqueue(rt: Runtime, delivery_ids: Sequence[str], at: datetime | None = None) -> None:
    """Put a job per delivery on the queue and stamp the deliveries ``at`` (default now)."""
    if not delivery_ids:
        return
    # the stamp names the jobs, so that due() can ask Redis whether one still waits
    at = at or utcnow()
    jobs = [
        rt.queue.prepare_data(
            JOB_FUNCTION,
            args=(delivery_id,),
            job_id=job_id(delivery_id, at),
            timeout=rt.job_timeout,
            result_ttl=0,
            failure_ttl=24 * 3600,
        )
        for delivery_id in delivery_ids
    ]
    rt.queue.enqueue_many(jobs)
    with rt.engine.begin() as conn:
        conn.execute(
            sa.update(_deliveries)
            .where(_deliveries.c.id.in_(list(delivery_ids)))
            .values(enqueued_at=at)
        )


def due(rt: Runtime, now: datetime, limit: int = BATCH) -> list[str]:
    """Pending deliveries whose time has come and that no live job holds or waits for."""
    with rt.engine.connect() as conn:
        rows = conn.execute(
            sa.select(Delivery.id, Delivery.enqueued_at)
            .where(
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.next_attempt_at <= now,
                sa.or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                sa.or_(
                    Delivery.enqueued_at.is_(None),
                    Delivery.enqueued_at < now - ENQUEUE_GRACE,
                    # A stamp older than the schedule or the lease predates the attempt that
                    # took the delivery (written after the push, it can land after the job's
                    # claim cleared it): whether a job still waits, Redis says below.
                    Delivery.enqueued_at < Delivery.next_attempt_at,
                    Delivery.enqueued_at < Delivery.lease_until,
                ),
            )
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        ).all()
    if not rows:
        return []
    stamped = [row for row in rows if row.enqueued_at is not None]
    jobs = Job.fetch_many([job_id(row.id, row.enqueued_at) for row in stamped], connection=rt.redis)
    waiting = {
        row.id
        for row, job in zip(stamped, jobs, strict=True)
        if job is not None and job.get_status(refresh=False) in _WAITING
    }
    return [row.id for row in rows if row.id not in waiting]


def run_once(rt: Runtime) -> int:
    """One dispatcher pass: dispatch new events, enqueue them and every lost due delivery.

    Returns how many deliveries were created. Redis being down is logged, not raised:
    the deliveries wait in the database for the next pass.
    """
    created = dispatch(rt)
    try:
        enqueue(rt, created)
        now = utcnow()
        # stamped with the time they were found free: an attempt that takes one of them
        # after that leaves a lease or a schedule later than the stamp
        enqueue(rt, due(rt, now), now)
    except redis.RedisError as exc:
        log.warning("webhook queue unavailable, deliveries wait in the database: %s", exc)
    return len(created)
