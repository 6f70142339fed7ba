"""The RQ job: one signed HTTP attempt of one delivery, recorded in the database."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa

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
    live_secrets,
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
    endpoint_id: str
    attempts_before: int
    endpoint_failing: bool


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


def payload(type_: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The JSON body of an event: ``{"type", "timestamp", "data"}``."""
    timestamp = created_at.isoformat().replace("+00:00", "Z")
    document = {"type": type_, "timestamp": timestamp, "data": data}
    return json.dumps(document, separators=(",", ":")).encode()


def deliver(delivery_id: str) -> str:
    """Make one attempt at a delivery if it is due and unclaimed; return what happened."""
    rt = current()
    # one connection for both transactions: a pool checkout (and its ping) costs a round trip
    with rt.engine.connect() as conn:
        message = _claim(conn, rt, delivery_id)
        if message is None:
            return "skipped"
        outcome = send(rt, message)
        return _record(conn, rt, delivery_id, message, outcome)


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
        outcome.error = _describe(exc)
    outcome.latency_ms = int((time.monotonic() - clock) * 1000)
    return outcome


def _describe(exc: requests.RequestException) -> str:
    """What went wrong, without the URL: its path or query may carry the shop's token."""
    if isinstance(exc, requests.Timeout):
        return f"{type(exc).__name__}: no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return f"{type(exc).__name__}: could not connect"
    return type(exc).__name__


def _claim(conn: sa.Connection, rt: Runtime, delivery_id: str) -> Message | None:
    """Take the delivery for one attempt, or None if it is not ours to send now."""
    now = utcnow()
    with conn.begin():
        claimed = conn.execute(
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
        row = conn.execute(
            sa.select(
                Delivery.attempt_count,
                WebhookEndpoint.id.label("endpoint_id"),
                WebhookEndpoint.url,
                WebhookEndpoint.enabled,
                WebhookEndpoint.secret,
                WebhookEndpoint.previous_secret,
                WebhookEndpoint.previous_secret_expires_at,
                WebhookEndpoint.failing_since,
                Event.id.label("event_id"),
                Event.type,
                Event.data,
                Event.created_at,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
            .join(Event, Event.id == Delivery.event_id)
            .where(Delivery.id == delivery_id)
        ).one()
        if not row.enabled:
            conn.execute(
                sa.update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status=FAILED, lease_until=None, last_error="the endpoint is disabled")
            )
            return None
    return Message(
        msg_id=row.event_id,
        url=row.url,
        body=payload(row.type, row.created_at, row.data),
        secrets=live_secrets(row.secret, row.previous_secret, row.previous_secret_expires_at, now),
        endpoint_id=row.endpoint_id,
        attempts_before=row.attempt_count,
        endpoint_failing=row.failing_since is not None,
    )


def _record(
    conn: sa.Connection, rt: Runtime, delivery_id: str, message: Message, outcome: Outcome
) -> str:
    """Store the attempt and decide: done, failed for good, or when to try again."""
    now = utcnow()
    attempts = message.attempts_before + 1
    endpoint_change: dict[str, object] = {}
    delivery_change: dict[str, object] = {"status": PENDING}
    if outcome.ok:
        delivery_change = {"status": SUCCEEDED, "delivered_at": now}
        if message.endpoint_failing:
            endpoint_change = {"failing_since": None}
    elif outcome.status_code == 410:
        delivery_change = {"status": FAILED}
        endpoint_change = {"enabled": False, "disabled_reason": "the endpoint answered 410 Gone"}
    else:
        retry_after = schedule.parse_retry_after(outcome.retry_after, now)
        delay = schedule.next_delay(attempts, rt.delays, retry_after)
        if delay is None:
            delivery_change = {"status": FAILED}
            endpoint_change = {
                "failing_since": sa.func.coalesce(WebhookEndpoint.failing_since, now)
            }
        else:
            delivery_change["next_attempt_at"] = now + timedelta(seconds=delay)
    with conn.begin():
        updated = conn.execute(
            sa.update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(
                attempt_count=attempts,
                last_status_code=outcome.status_code,
                last_error=outcome.error,
                lease_until=None,
                **delivery_change,
            )
        ).rowcount
        if not updated:  # the endpoint was deleted meanwhile, and the delivery with it
            return "deleted"
        conn.execute(
            sa.insert(DeliveryAttempt).values(
                delivery_id=delivery_id,
                started_at=outcome.started_at,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                response_excerpt=outcome.excerpt,
                error=outcome.error,
            )
        )
        if endpoint_change:
            conn.execute(
                sa.update(WebhookEndpoint)
                .where(WebhookEndpoint.id == message.endpoint_id)
                .values(**endpoint_change)
            )
    status = str(delivery_change["status"])
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
