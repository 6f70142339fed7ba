"""``GET /api/v1/events/ws``: the event stream over a WebSocket, on the same WSGI server.

simple-websocket takes the connection's socket over from the WSGI server (the werkzeug
dev server, or gunicorn's gthread worker), so no second server stack is needed. The
same key, scope, cap and feed as the SSE stream; one JSON text frame per event; the
server pings every heartbeat.
"""

from __future__ import annotations

import json
from contextlib import closing, suppress
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from simple_websocket import ConnectionClosed, Server

from gateway.core import feed
from gateway.core.schemas import EVENT
from gateway.web import db, streams
from gateway.web.api.base import Api
from gateway.web.api.events.resources import STREAM_BATCH, _position
from gateway.web.api.events.schemas import FEED_TYPES
from gateway.web.auth import require
from gateway.web.errors import fail

bp = Blueprint("events_ws", __name__)


def init_app(app: Flask, api: Api) -> None:
    """Serve the WebSocket beside the API and describe it in the OpenAPI document."""
    app.register_blueprint(bp, url_prefix="/api/v1/events")
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "events_ws.socket")
    api.spec.path(rule=rule, operations={"get": _OPERATION})


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
    }


# written by hand: flask-smorest documents its own views, and this one is plain Flask
_OPERATION: dict[str, Any] = {
    "tags": ["events"],
    "summary": "Follow events live over a WebSocket",
    "description": "The same events, scope, filters and cap as `/api/v1/events/stream`, one"
    " JSON text frame per event (the event as the list shows it), oldest first. Open it as a"
    " WebSocket with the key in `Authorization`; `Last-Event-ID` resumes right after that"
    " event. The server pings every `heartbeat_seconds` and closes with 1001 after"
    " `stream_max_seconds`: reconnect with the last id seen. A plain GET answers 426.",
    "parameters": [
        {
            "name": "type",
            "in": "query",
            "required": False,
            "description": "Only these types (repeat the parameter for several).",
            "schema": {"type": "array", "items": {"type": "string", "enum": FEED_TYPES}},
            "explode": True,
        },
        {
            "name": "order_id",
            "in": "query",
            "required": False,
            "description": "Only the events of this order (its order.* and payment.*).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        },
    ],
    "responses": {
        "101": {"description": "Switching Protocols: the WebSocket is open."},
        "401": _error("No valid API key or token"),
        "403": _error("The key lacks `events:read`, or its IP allow-list refuses"),
        "422": _error("Unknown event type or Last-Event-ID"),
        "426": _error("Not a WebSocket upgrade"),
        "429": _error("Too many streams for this key"),
        "503": _error("Streams unavailable for a moment"),
    },
}


# two rules, one view: werkzeug routes an Upgrade request only to a websocket rule, and a
# plain GET (which answers 426 once the key is checked) only to a plain one
@bp.get("/ws", websocket=True)
@bp.get("/ws")
@require("events:read")
def socket() -> Response:
    """Follow events over a WebSocket; ``Last-Event-ID`` (header) resumes after that event."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        fail(
            426,
            "upgrade_required",
            "open this URL as a WebSocket",
            headers={"Upgrade": "websocket"},
        )
    types = request.args.getlist("type")
    unknown = [t for t in types if t not in FEED_TYPES]
    if unknown:
        fail(422, "validation_error", f"type: unknown event type {unknown[0]}", {"type": unknown})
    merchant_id = g.merchant_id
    filters = feed.Filters(types=types, order_id=request.args.get("order_id"))
    last = request.headers.get("Last-Event-ID", "").strip()
    session = db.session()
    cursor = _position(last, "Last-Event-ID") if last else feed.tail(session, merchant_id)
    session.close()  # the socket reads with sessions of its own
    cap = streams.settings()["streams_per_key"]
    slot = streams.take_slot(f"key:{g.api_key.id}", cap)
    if slot is None:
        streams.refuse(cap, "API key")
    heartbeat = streams.settings()["heartbeat_seconds"]
    ws = Server.accept(request.environ, ping_interval=heartbeat)
    sessions = current_app.extensions["db.sessionmaker"]

    def read() -> tuple[list[Any], bool, bool]:
        nonlocal cursor
        with sessions() as reading:
            rows = feed.after(reading, merchant_id, cursor, filters, STREAM_BATCH)
            if rows:
                cursor = feed.position_of(rows[-1])
            again = len(rows) == STREAM_BATCH or feed.held(reading, merchant_id, cursor)
            return [EVENT.dump(row) for row in rows], again, not ws.connected

    try:
        with closing(streams.follow(read, merchant_id, slot)) as batches:
            for batch in batches:
                for event in batch or ():
                    ws.send(json.dumps(event, separators=(",", ":")))
    except ConnectionClosed:
        pass
    finally:
        with suppress(ConnectionClosed):
            ws.close(reason=1001, message="stream ended: reconnect with Last-Event-ID")
    return _Handled(ws.mode)


class _Handled(Response):
    """The WebSocket already used the connection: the WSGI server must write nothing."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def __call__(self, environ: Any, start_response: Any) -> Any:
        # as flask-sock does: each server has its own way to be told "no response"
        if self.mode == "gunicorn":
            raise StopIteration()
        if self.mode == "werkzeug":
            raise ConnectionError()
        return []
