"""The events resource: every event the merchant's webhooks carry, as a list and live."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, g, request
from flask.views import MethodView

from gateway.core import feed
from gateway.core.schemas import EVENT
from gateway.web import db, streams
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema
from gateway.web.api.events.schemas import EventListArgs, EventListSchema, StreamArgs
from gateway.web.auth import require
from gateway.web.errors import fail

blp = Blueprint(
    "events",
    __name__,
    description="Events: what your webhooks carry, to list, catch up on, or follow live.",
)

# events read from the database per query of a stream
STREAM_BATCH = 100


def _filters(args: dict[str, Any]) -> feed.Filters:
    return feed.Filters(
        types=args.get("type", ()),
        order_id=args.get("order_id"),
        created_gte=args.get("created_gte"),
        created_lt=args.get("created_lt"),
    )


def _position(event_id: str, name: str) -> feed.Position:
    found = feed.position(db.session(), g.merchant_id, event_id)
    if found is None:
        fail(
            422,
            "invalid_cursor",
            f"{name}: no such event (it may be older than the retention)",
            {name: ["no such event"]},
        )
    return found


@blp.route("")
class Events(MethodView):
    @require("events:read")
    @blp.arguments(EventListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, EventListSchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="Invalid filter or cursor")
    def get(self, args: dict[str, Any]):
        """List events

        Every event your webhooks carry (not the dashboard's `ping`), kept for
        `[events] retention_days` (30 by default). Newest first; with `direction=asc`
        oldest first, which is how to catch up after downtime: pass the last event
        you handled as `starting_after` and follow `has_more`. Filter by `type`
        (repeatable), `order_id` and creation time.
        """
        cursor = args.get("starting_after")
        position = _position(cursor, "starting_after") if cursor else None
        session, filters, limit = db.session(), _filters(args), args["limit"]
        if args["direction"] == "asc":
            rows = feed.after(session, g.merchant_id, position or feed.START, filters, limit + 1)
        else:
            rows = feed.before(session, g.merchant_id, position, filters, limit + 1)
        return {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit}


@blp.route("/stream")
class EventStream(MethodView):
    @require("events:read")
    @blp.arguments(StreamArgs, location="query", unknown=ma.RAISE)
    @blp.doc(
        responses={
            "200": {
                "description": "Server-Sent Events: one message per event, `id:` its id and"
                " `data:` the event as the list shows it; a `: heartbeat` comment line"
                " every `heartbeat_seconds`.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        }
    )
    @blp.alt_response(422, schema=ApiErrorSchema, description="Unknown Last-Event-ID")
    @blp.alt_response(429, schema=ApiErrorSchema, description="Too many streams for this key")
    @blp.alt_response(503, schema=ApiErrorSchema, description="Streams unavailable for a moment")
    def get(self, args: dict[str, Any]):
        """Follow events live

        Server-Sent Events of the same events as the list, oldest first. Without
        `Last-Event-ID` the stream starts with the next event; with it (EventSource
        sends it when it reconnects) it resumes right after that event, through any
        restart of the gateway, so nothing is missed. A stream ends after
        `stream_max_seconds`: reconnect with `Last-Event-ID`. Each key may hold
        `streams_per_key` streams at once.
        """
        merchant_id, filters = g.merchant_id, _filters(args)
        last = request.headers.get("Last-Event-ID", "").strip()
        cursor = _position(last, "Last-Event-ID") if last else None
        session = db.session()
        if cursor is None:
            cursor = feed.tail(session, merchant_id)
        # the request's connection goes back to the pool: the stream reads with its own
        session.close()
        cap = streams.settings()["streams_per_key"]
        slot = streams.take_slot(f"key:{g.api_key.id}", cap)
        if slot is None:
            streams.refuse(cap, "API key")
        sessions = current_app.extensions["db.sessionmaker"]
        position = cursor

        def read() -> tuple[list[str], bool, bool]:
            nonlocal position
            with sessions() as reading:
                rows = feed.after(reading, merchant_id, position, filters, STREAM_BATCH)
                if rows:
                    position = feed.position_of(rows[-1])
                messages = [streams.message(EVENT.dump(row), event_id=row.id) for row in rows]
                again = len(rows) == STREAM_BATCH or feed.held(reading, merchant_id, position)
            return messages, again, False

        return streams.response(streams.run(read, merchant_id, slot))
