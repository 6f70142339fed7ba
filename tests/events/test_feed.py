"""The feed's order holds under concurrent writers, and old events are purged."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.core import events
from gateway.core.models import Event, utcnow
from gateway.web import db
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint
from webhooks.retention import purge_events

EVENTS = "/api/v1/events"


def asc_ids(client, merchant, after: str | None = None) -> list[str]:
    query = {"direction": "asc", **({"starting_after": after} if after else {})}
    answer = client.get(EVENTS, query_string=query, headers=merchant.headers)
    return [event["id"] for event in answer.json["data"]]


def test_an_event_committed_late_is_never_behind_a_cursor(app, client, merchant, emit, sse):
    """A transaction that wrote an event first but commits last: the catch-up list and the
    stream hold the later events back until it ends, then show all, none skipped."""
    if app.extensions["db.engine"].dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: seq order is commit order there")
    stream = sse("/api/v1/events/stream", merchant.headers)
    first = emit(merchant.id, data={"id": "ord_first"})
    assert stream.next().id == first
    written, release = threading.Event(), threading.Event()
    slow: list[str] = []

    def slow_writer() -> None:
        with app.app_context(), db.transaction() as session:
            event = events.record(session, merchant.id, "order.created", {"id": "ord_slow"})
            session.flush()
            slow.append(event.id)
            written.set()
            release.wait(20)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(10)
    quick = emit(merchant.id, data={"id": "ord_quick"})  # committed while slow is open
    assert asc_ids(client, merchant, after=first) == []  # held back, not skipped
    assert stream.quiet(1.0)
    release.set()
    thread.join(10)
    assert [m.id for m in stream.take(2)] == [slow[0], quick]
    assert asc_ids(client, merchant, after=first) == [slow[0], quick]


def test_events_past_the_retention_go_with_their_delivery_logs(app, merchant, emit):
    old, pending_old, recent = (emit(merchant.id) for _ in range(3))
    with app.app_context(), db.transaction() as session:
        endpoint = WebhookEndpoint(merchant_id=merchant.id, url="https://x.example", secret="s")
        session.add(endpoint)
        session.flush()
        done = Delivery(
            merchant_id=merchant.id, event_id=old, endpoint_id=endpoint.id, status="succeeded"
        )
        waiting = Delivery(merchant_id=merchant.id, event_id=pending_old, endpoint_id=endpoint.id)
        session.add_all([done, waiting])
        session.flush()
        session.add(DeliveryAttempt(delivery_id=done.id, started_at=utcnow(), latency_ms=5))
        session.execute(
            sa.update(Event)
            .where(Event.id.in_([old, pending_old]))
            .values(created_at=utcnow() - timedelta(days=31))
        )
    with app.app_context(), db.transaction() as session:
        assert purge_events(session, 0) == 0  # 0 keeps everything
        assert purge_events(session, 30) == 1
    with app.app_context():
        session = db.session()
        assert set(session.scalars(sa.select(Event.id))) == {pending_old, recent}
        assert session.scalar(sa.select(sa.func.count()).select_from(DeliveryAttempt)) == 0
        assert list(session.scalars(sa.select(Delivery.event_id))) == [pending_old]
