"""The RQ job: one signed HTTP attempt of one delivery, recorded in the database."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.models import Event, utcnow
from webhooks import schedule, signing
from webhooks.models import (
    EXCERPT_BYTES,
    FAILED,
    PENDING,
    SUCCEEDED,
    Delivery,
    DeliveryAttempt,
    WebhookEndpoint,
)
from webhooks.runtime import Runtime, current

log = logging.getLogger(__name__)


@dataclass
class Message:
    """What one attempt sends: where, the body, and the secrets that sign it."""

    msg_id: str
    url: str
    body: bytes
    secrets: list[str]


@dataclass
class Outcome:
    """What came back from one attempt."""

    started_at: datetime
    latency_ms: int
    status_code: int | None = None
    excerpt: str = ""
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def payload(event: Event) -> bytes:
    """The JSON body of an event: ``{"type", "timestamp", "data"}``."""
    timestamp = event.created_at.isoformat().replace("+00:00", "Z")
    document = {"type": event.type, "timestamp": timestamp, "data": event.data}
    return json.dumps(document, separators=(",", ":")).encode()


def deliver(delivery_id: str) -> str:
    """Make one attempt at a delivery if it is due and unclaimed; return what happened."""
    rt = current()
    message = _claim(rt, delivery_id)
    if message is None:
        return "skipped"
    outcome = send(rt, message)
    return _record(rt, delivery_id, outcome)


def send(rt: Runtime, message: Message) -> Outcome:
    """POST the signed message once: no redirects, a timeout, the first 1 KB kept."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            message.secrets, message.msg_id, timestamp, message.body
        ),
    }
    started_at, clock = utcnow(), time.monotonic()
    outcome = Outcome(started_at=started_at, latency_ms=0)
    try:
        # stream: a receiver answering with megabytes costs us one kilobyte
        with rt.http.post(
            message.url,
            data=message.body,
            headers=headers,
            timeout=rt.settings["timeout"],
            allow_redirects=False,
            stream=True,
        ) as response:
            outcome.status_code = response.status_code
            outcome.retry_after = response.headers.get("Retry-After")
            raw = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
            outcome.excerpt = raw.decode("utf-8", errors="replace")
    except requests.RequestException as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"[:500]
    outcome.latency_ms = int((time.monotonic() - clock) * 1000)
    return outcome


def _claim(rt: Runtime, delivery_id: str) -> Message | None:
    """Take the delivery for one attempt, or None if it is not ours to send now."""
    now = utcnow()
    with rt.sessions() as session, session.begin():
        claimed = session.execute(
            sa.update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == PENDING,
                Delivery.next_attempt_at <= now,
                sa.or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
            )
            .values(lease_until=now + timedelta(seconds=rt.lease_seconds), enqueued_at=None)
        ).rowcount
        if not claimed:
            return None
        delivery = session.scalar(sa.select(Delivery).where(Delivery.id == delivery_id))
        endpoint = _endpoint(session, delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            delivery.status, delivery.lease_until = FAILED, None
            delivery.last_error = "the endpoint is disabled"
            return None
        event = session.scalar(sa.select(Event).where(Event.id == delivery.event_id))
        return Message(
            msg_id=event.id,
            url=endpoint.url,
            body=payload(event),
            secrets=endpoint.signing_secrets(now),
        )


def _record(rt: Runtime, delivery_id: str, outcome: Outcome) -> str:
    """Store the attempt and decide: done, failed for good, or when to try again."""
    now = utcnow()
    with rt.sessions() as session, session.begin():
        delivery = session.scalar(sa.select(Delivery).where(Delivery.id == delivery_id))
        if delivery is None:  # the endpoint was deleted meanwhile
            return "deleted"
        endpoint = _endpoint(session, delivery.endpoint_id)
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                started_at=outcome.started_at,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                response_excerpt=outcome.excerpt,
                error=outcome.error,
            )
        )
        delivery.attempt_count += 1
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        delivery.lease_until = None
        if outcome.ok:
            delivery.status, delivery.delivered_at = SUCCEEDED, now
            endpoint.failing_since = None
        elif outcome.status_code == 410:
            delivery.status = FAILED
            endpoint.enabled = False
            endpoint.disabled_reason = "the endpoint answered 410 Gone"
        else:
            retry_after = schedule.parse_retry_after(outcome.retry_after, now)
            delay = schedule.next_delay(delivery.attempt_count, rt.delays, retry_after)
            if delay is None:
                delivery.status = FAILED
                endpoint.failing_since = endpoint.failing_since or now
            else:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
        status = delivery.status
    log.info(
        "webhook delivery %s: attempt answered %s, now %s",
        delivery_id,
        outcome.status_code or outcome.error,
        status,
        extra={
            "delivery_id": delivery_id,
            "status_code": outcome.status_code,
            "latency_ms": outcome.latency_ms,
            "delivery_status": status,
        },
    )
    return status


def _endpoint(session: Session, endpoint_id: str) -> WebhookEndpoint | None:
    return session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
