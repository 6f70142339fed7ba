"""The RQ job: one signed HTTP attempt of one delivery, recorded in the database."""

from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa
import urllib3

from gateway.core import logs, metrics
from gateway.core.models import Event, UTCDateTime, new_id, utcnow
from gateway.core.schemas import event_body
from plugins.http import parse_retry_after
from webhooks import schedule, signing, ssrf
from webhooks.deadline import Deadline
from webhooks.models import (
    EXCERPT_BYTES,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
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
    # the next_attempt_at it was claimed at; a redeliver during the attempt sets another
    scheduled_at: datetime
    # the API request that caused the event: the attempt logs under its id
    request_id: str | None = None


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
    """The JSON body of an event: ``{"type", "api_version", "timestamp", "data"}``."""
    return json.dumps(event_body(type_, created_at, data), separators=(",", ":")).encode()


def deliver(delivery_id: str) -> str:
    """Make one attempt at a delivery if it is due and unclaimed; return what happened."""
    rt = current()
    # one connection per worker process for the claim and the record: a checkout (and its
    # ping) costs a round trip; an error drops it (the delivery waits for its lease)
    conn = rt.job_connection()
    try:
        message = _claim(conn, rt, delivery_id)
        if message is None:
            return "skipped"
        token = logs.request_id.set(message.request_id)
        try:
            outcome = send(rt, message)
            label = metrics.attempt_outcome(outcome.status_code)
            metrics.WEBHOOK_ATTEMPTS.labels(label).inc()
            metrics.WEBHOOK_LATENCY.labels(label).observe(outcome.latency_ms / 1000)
            return _record(conn, rt, delivery_id, message, outcome)
        finally:
            logs.request_id.reset(token)
    except BaseException:
        rt.drop_job_connection()
        raise


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
    limit = Deadline(rt.settings["timeout"])
    try:
        # stream: a receiver answering with megabytes costs us one kilobyte
        with (
            limit,
            rt.http.post(
                message.url,
                data=message.body,
                headers=headers,
                timeout=rt.settings["timeout"],
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            outcome.status_code = response.status_code
            outcome.retry_after = response.headers.get("Retry-After")
            raw = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
            outcome.excerpt = raw.decode("utf-8", errors="replace")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        # a deadline that shut the socket shows as whatever the read was doing then
        outcome.status_code = None if limit.expired else outcome.status_code
        outcome.error = (
            "Timeout: no complete answer within the attempt's deadline"
            if limit.expired
            else _describe(exc)
        )
    outcome.latency_ms = int((time.monotonic() - clock) * 1000)
    return outcome


def _describe(exc: requests.RequestException) -> str:
    """What went wrong, without the URL: its path or query may carry the shop's token."""
    if isinstance(exc, requests.Timeout):
        return f"{type(exc).__name__}: no answer in time"
    if isinstance(exc, requests.ConnectionError):
        if _refused_by_guard(exc):
            return f"{type(exc).__name__}: refused to send to a non-public address"
        return f"{type(exc).__name__}: could not connect"
    return type(exc).__name__


def _refused_by_guard(exc: BaseException) -> bool:
    """Whether the SSRF guard refused the peer (urllib3 wraps its error a few times)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssrf.PeerRefused):
            return True
        pending += [*item.args, item.__cause__, item.__context__, getattr(item, "reason", None)]
    return False


# The statements of an attempt are built once: building and cache-keying a statement costs
# more than SQLite takes to run it. Bound parameter names differ from column names (SQLAlchemy
# reserves those for SET clauses).
_deliveries = Delivery.__table__
_endpoints = WebhookEndpoint.__table__
_events = Event.__table__
_attempts = DeliveryAttempt.__table__

_NOW = sa.bindparam("p_now", type_=UTCDateTime)
_CLAIMABLE = (
    _deliveries.c.id == sa.bindparam("p_id"),
    _deliveries.c.status == DeliveryStatus.PENDING,
    _deliveries.c.next_attempt_at <= _NOW,
    sa.or_(_deliveries.c.lease_until.is_(None), _deliveries.c.lease_until < _NOW),
)
_TAKE = {"lease_until": sa.bindparam("p_lease", type_=UTCDateTime), "enqueued_at": None}
_ENDPOINT_COLUMNS = (
    _endpoints.c.url,
    _endpoints.c.enabled,
    _endpoints.c.secret,
    _endpoints.c.previous_secret,
    _endpoints.c.previous_secret_expires_at,
    _endpoints.c.failing_since,
)
_EVENT_COLUMNS = (_events.c.type, _events.c.data, _events.c.created_at, _events.c.request_id)

# PostgreSQL: take the lease and read what the attempt sends in one statement (and, as the
# job's connection autocommits, one round trip); the row lock makes a second claim wait and
# then find the lease taken.
_CLAIM_JOINED = (
    sa.update(_deliveries)
    .where(
        *_CLAIMABLE,
        _endpoints.c.id == _deliveries.c.endpoint_id,
        _events.c.id == _deliveries.c.event_id,
    )
    .values(_TAKE)
    .returning(
        _deliveries.c.attempt_count,
        _deliveries.c.next_attempt_at,
        _deliveries.c.endpoint_id,
        _deliveries.c.event_id,
        *_ENDPOINT_COLUMNS,
        *_EVENT_COLUMNS,
    )
)


def _from(table: sa.Table, column: sa.Column, key: sa.Column) -> sa.Label:
    # SQLite (3.40) plans a RETURNING subquery's bare `id = <updated row's column>` as a
    # SCAN of the whole table, once per subquery and claim: the claim grew with the events
    # table. Any expression around the outer column (a no-op CAST to its own TEXT affinity)
    # lets it SEARCH the unique index instead.
    return (
        sa.select(column)
        .where(table.c.id == sa.cast(key, sa.String))
        .correlate(_deliveries)
        .scalar_subquery()
        .label(column.name)
    )


# SQLite: its RETURNING may not name the tables of an UPDATE ... FROM, but may hold
# correlated subqueries; still one statement in the job's transaction.
_CLAIM_SUBQUERIES = (
    sa.update(_deliveries)
    .where(*_CLAIMABLE)
    .values(_TAKE)
    .returning(
        _deliveries.c.attempt_count,
        _deliveries.c.next_attempt_at,
        _deliveries.c.endpoint_id,
        _deliveries.c.event_id,
        *(_from(_endpoints, c, _deliveries.c.endpoint_id) for c in _ENDPOINT_COLUMNS),
        *(_from(_events, c, _deliveries.c.event_id) for c in _EVENT_COLUMNS),
    )
)

_DISABLED = (
    sa.update(_deliveries)
    .where(_deliveries.c.id == sa.bindparam("p_id"))
    .values(status=DeliveryStatus.FAILED, lease_until=None, last_error="the endpoint is disabled")
)

# The outcome of an attempt. Only a success sets delivered_at and only a retry sets
# next_attempt_at; otherwise both keep their value. A redeliver while the attempt was in
# flight (the schedule is no longer the one claimed) wins: the status, the count and the
# schedule stay as it set them, and the sweep sends the delivery again once the lease is off.
_OURS = _deliveries.c.next_attempt_at == sa.bindparam("p_scheduled", type_=UTCDateTime)


def _if_ours(value: sa.ColumnElement, column: sa.Column) -> sa.Case:
    return sa.case((_OURS, value), else_=column)


_RESULT = (
    sa.update(_deliveries)
    .where(_deliveries.c.id == sa.bindparam("p_id"))
    .values(
        attempt_count=_if_ours(
            sa.bindparam("p_attempts", type_=sa.Integer), _deliveries.c.attempt_count
        ),
        last_status_code=sa.bindparam("p_status_code", type_=sa.Integer),
        last_error=sa.bindparam("p_error", type_=sa.String),
        lease_until=None,
        status=_if_ours(sa.bindparam("p_status", type_=sa.String), _deliveries.c.status),
        next_attempt_at=_if_ours(
            sa.func.coalesce(
                sa.bindparam("p_next", type_=UTCDateTime), _deliveries.c.next_attempt_at
            ),
            _deliveries.c.next_attempt_at,
        ),
        delivered_at=sa.func.coalesce(
            sa.bindparam("p_delivered", type_=UTCDateTime), _deliveries.c.delivered_at
        ),
    )
    .returning(_deliveries.c.status)
)
_ATTEMPT_VALUES = (
    sa.bindparam("p_attempt_id", type_=sa.String),
    sa.bindparam("p_started", type_=UTCDateTime),
    sa.bindparam("p_status_code", type_=sa.Integer),
    sa.bindparam("p_latency", type_=sa.Integer),
    sa.bindparam("p_excerpt", type_=sa.Text),
    sa.bindparam("p_error", type_=sa.String),
)
_ATTEMPT_COLUMNS = ("id", "started_at", "status_code", "latency_ms", "response_excerpt", "error")
_ATTEMPT = sa.insert(_attempts).values(
    delivery_id=sa.bindparam("p_id", type_=sa.String),
    **dict(zip(_ATTEMPT_COLUMNS, _ATTEMPT_VALUES, strict=True)),
)
# PostgreSQL: the delivery's new state and the attempt's row in one atomic statement,
# returning the delivery's status; no row is inserted when the delivery is gone (its
# endpoint was deleted meanwhile).
_done = _RESULT.returning(_deliveries.c.id).cte("done")
_RESULT_AND_ATTEMPT = (
    sa.insert(_attempts)
    .from_select(["delivery_id", *_ATTEMPT_COLUMNS], sa.select(_done.c.id, *_ATTEMPT_VALUES))
    .returning(sa.select(_done.c.status).scalar_subquery())
)


def _claim_row(conn: sa.Connection, statement: sa.Executable, params: dict) -> Any:
    return conn.execute(statement, params).mappings().first()


def _claim(conn: sa.Connection, rt: Runtime, delivery_id: str) -> Message | None:
    """Take the delivery for one attempt, or None if it is not ours to send now."""
    now = utcnow()
    params = {
        "p_id": delivery_id,
        "p_now": now,
        "p_lease": now + timedelta(seconds=rt.lease_seconds),
    }
    # PostgreSQL autocommits each statement; SQLite takes its write lock up front (BEGIN
    # IMMEDIATE, see make_engine) for the claim and the refusal of a disabled endpoint
    with nullcontext() if rt.autocommits else conn.begin():
        row = _claim_row(conn, _CLAIM_JOINED if rt.autocommits else _CLAIM_SUBQUERIES, params)
        if row is not None and not row["enabled"]:
            conn.execute(_DISABLED, params)
            return None
    if row is None:
        return None
    return Message(
        msg_id=row["event_id"],
        url=row["url"],
        body=payload(row["type"], row["created_at"], row["data"]),
        secrets=live_secrets(
            row["secret"], row["previous_secret"], row["previous_secret_expires_at"], now
        ),
        endpoint_id=row["endpoint_id"],
        attempts_before=row["attempt_count"],
        endpoint_failing=row["failing_since"] is not None,
        scheduled_at=row["next_attempt_at"],
        request_id=row["request_id"],
    )


def _record(
    conn: sa.Connection, rt: Runtime, delivery_id: str, message: Message, outcome: Outcome
) -> str:
    """Store the attempt and decide: done, failed for good, or when to try again."""
    now = utcnow()
    attempts = message.attempts_before + 1
    endpoint_change: dict[str, object] = {}
    status, next_attempt_at, delivered_at = DeliveryStatus.PENDING, None, None
    if outcome.ok:
        status, delivered_at = DeliveryStatus.SUCCEEDED, now
        if message.endpoint_failing:
            endpoint_change = {"failing_since": None}
    elif outcome.status_code == 410:
        status = DeliveryStatus.FAILED
        endpoint_change = {"enabled": False, "disabled_reason": "the endpoint answered 410 Gone"}
    else:
        retry_after = parse_retry_after(outcome.retry_after, now)
        delay = schedule.next_delay(attempts, rt.delays, retry_after)
        if delay is None:
            status = DeliveryStatus.FAILED
            endpoint_change = {"failing_since": sa.func.coalesce(_endpoints.c.failing_since, now)}
        else:
            next_attempt_at = now + timedelta(seconds=delay)
    params = {
        "p_id": delivery_id,
        "p_scheduled": message.scheduled_at,
        "p_attempts": attempts,
        "p_status_code": outcome.status_code,
        "p_error": outcome.error,
        "p_status": status,
        "p_next": next_attempt_at,
        "p_delivered": delivered_at,
        "p_attempt_id": new_id("att"),
        "p_started": outcome.started_at,
        "p_latency": outcome.latency_ms,
        "p_excerpt": outcome.excerpt,
    }
    if rt.autocommits and not endpoint_change:
        recorded = _returned_status(conn, _RESULT_AND_ATTEMPT, params)
    elif not endpoint_change:
        recorded = _record_sqlite(conn, params)
    else:
        recorded = _record_in_transaction(conn, rt, params, message.endpoint_id, endpoint_change)
    if recorded is None:  # the endpoint was deleted meanwhile, and the delivery with it
        return "deleted"
    # the delivery's status as recorded: a redeliver during the attempt set its own
    status = recorded
    # a success is routine: DEBUG; a failure stays visible
    log.log(
        logging.DEBUG if status == DeliveryStatus.SUCCEEDED else logging.WARNING,
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


def _returned_status(conn: sa.Connection, statement: sa.Executable, params: dict) -> str | None:
    """Run a recording statement; the delivery's status it returns, None if it is gone."""
    return conn.execute(statement, params).scalar()


def _record_sqlite(conn: sa.Connection, params: dict[str, Any]) -> str | None:
    """The delivery's new state and its attempt in one SQLite transaction; its status."""
    with conn.begin():
        status = _returned_status(conn, _RESULT, params)
        if status is not None:
            conn.execute(_ATTEMPT, params)
    return status


def _record_in_transaction(
    conn: sa.Connection,
    rt: Runtime,
    params: dict[str, Any],
    endpoint_id: str,
    endpoint_change: dict[str, object],
) -> str | None:
    """The delivery, its attempt and the endpoint's change in one transaction; its status."""
    # an autocommitting connection has no transactions: the rare case takes its own
    with rt.engine.connect() if rt.autocommits else nullcontext(conn) as tx, tx.begin():
        scheduled = tx.execute(
            sa.select(_deliveries.c.next_attempt_at)
            .where(_deliveries.c.id == params["p_id"])
            .with_for_update()
        ).first()
        if scheduled is None:
            return None
        status = tx.execute(_RESULT, params).scalar_one()
        tx.execute(_ATTEMPT, params)
        # after a redeliver the delivery is not over: its endpoint is judged by what comes next
        if scheduled.next_attempt_at == params["p_scheduled"]:
            tx.execute(
                sa.update(_endpoints)
                .where(_endpoints.c.id == endpoint_id)
                .values(**endpoint_change)
            )
    return status
