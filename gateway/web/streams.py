"""Server-Sent Events: the API's event stream and the checkout page's order stream.

A stream holds a web worker thread for its whole life (gunicorn's gthread worker: one
thread each), so each is capped per API key or per order across every web process
(``core.live.Slots``), sends a heartbeat comment every ``heartbeat_seconds`` and ends
after ``stream_max_seconds``; EventSource and the Python client reconnect with
Last-Event-ID. Between announcements from ``core.live`` a stream reads the database
again each heartbeat, so it keeps working, slower, while Redis is away.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

from flask import Flask, Response, current_app
from redis import Redis, RedisError

from gateway.core.live import Announcer, Hub, Slots
from gateway.web.errors import fail

# the reconnection delay EventSource is told to use
RETRY_MS = 2000
# how soon to read again when events wait for an older transaction, or Redis is away
SOON = 0.2
WITHOUT_HUB = 2.0

Read = Callable[[], tuple[list[str], bool, bool]]


def init_app(app: Flask) -> None:
    """Announce committed events to every process's streams through Redis."""
    url = app.config["GATEWAY"]["redis"]["url"]
    Announcer(url).install(app.extensions["db.sessionmaker"])


def settings() -> dict[str, Any]:
    """The [events] settings of the app."""
    return current_app.config["GATEWAY"]["events"]


def hub() -> Hub:
    """This process's subscription to event announcements."""
    return Hub.of(current_app.config["GATEWAY"]["redis"]["url"])


def _slots() -> Slots:
    extensions = current_app.extensions
    if "stream.slots" not in extensions:
        url = current_app.config["GATEWAY"]["redis"]["url"]
        client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        extensions["stream.slots"] = Slots(client)
    return extensions["stream.slots"]


class Slot:
    """A stream's place under its holder's cap, renewed with each heartbeat."""

    def __init__(self, slots: Slots, holder: str, token: str, ttl: float) -> None:
        self.slots, self.holder, self.token, self.ttl = slots, holder, token, ttl

    def renew(self) -> None:
        self.slots.renew(self.holder, self.token, self.ttl)

    def release(self) -> None:
        self.slots.release(self.holder, self.token)


def take_slot(holder: str, cap: int) -> Slot | None:
    """A slot under ``cap`` for ``holder``; None when Redis is away or the cap is reached.

    Callers answer None with :func:`refuse` (the API) or a bare status (the checkout).
    """
    # a holder that died stops renewing: its slot frees itself after three heartbeats
    ttl = 3 * settings()["heartbeat_seconds"]
    slots = _slots()
    try:
        token = slots.take(holder, cap, ttl)
    except RedisError:
        return None
    return None if token is None else Slot(slots, holder, token, ttl)


def refuse(cap: int, what: str) -> None:
    """The JSON error for a stream that got no slot: the cap, or Redis being away."""
    retry = str(int(settings()["heartbeat_seconds"]))
    try:
        _slots().redis.ping()
    except RedisError:
        fail(
            503,
            "stream_unavailable",
            "streams are unavailable for a moment; retry, or read GET /api/v1/events",
            headers={"Retry-After": "5"},
        )
    fail(
        429,
        "too_many_streams",
        f"{cap} streams are already open for this {what}",
        headers={"Retry-After": retry},
    )


def message(data: Any, event_id: str | None = None, event: str | None = None) -> str:
    """One SSE message; ``data`` as compact JSON on one line."""
    lines = [f"id: {event_id}"] if event_id else []
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def response(body: Iterator[str]) -> Response:
    """A text/event-stream answer that no proxy buffers or caches."""
    return Response(
        body,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# what follow() yields when a heartbeat is due instead of a batch
HEARTBEAT = None


def follow(read: Read, merchant_id: str, slot: Slot) -> Iterator[list[Any] | None]:
    """Batches from ``read`` until it says done, the stream's time is up or the client goes;
    HEARTBEAT when nothing was sent for a heartbeat.

    ``read()`` returns (batch, again soon, done). It runs after each announcement for the
    merchant, and at least once a heartbeat. The transports (SSE here, the WebSocket in
    api/events/socket.py) turn batches and heartbeats into their own frames.
    """
    config, waiting = settings(), hub()
    heartbeat = config["heartbeat_seconds"]

    def body() -> Iterator[list[Any] | None]:
        waiter = waiting.waiter(merchant_id)
        start = time.monotonic()
        ends, last_sent, last_renewed = start + config["stream_max_seconds"], start, start
        try:
            while True:
                batch, again, done = read()
                now = time.monotonic()
                if batch:
                    yield batch
                    last_sent = now
                if done or now >= ends:
                    return
                if now - last_renewed >= heartbeat:
                    slot.renew()
                    last_renewed = now
                if now - last_sent >= heartbeat:
                    yield HEARTBEAT
                    last_sent = now
                pause = heartbeat - (now - last_sent)
                if again:
                    pause = SOON
                elif not waiting.connected:
                    pause = min(pause, WITHOUT_HUB)
                waiter.wait(min(pause, ends - now))
        finally:
            waiter.close()
            slot.release()

    return body()


def run(read: Read, merchant_id: str, slot: Slot) -> Iterator[str]:
    """The text of an SSE stream: ``read`` gives SSE messages (see :func:`message`)."""
    batches = follow(read, merchant_id, slot)

    def body() -> Iterator[str]:
        with closing(batches):
            yield f"retry: {RETRY_MS}\n\n"
            for batch in batches:
                # a comment: invisible to EventSource, but a dead client shows at once
                yield ": heartbeat\n\n" if batch is HEARTBEAT else "".join(batch)

    return body()
