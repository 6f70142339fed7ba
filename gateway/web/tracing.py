"""Each request gets an id (the caller's ``X-Request-ID`` when usable), carried by every log
line it causes, by the events it writes and so by the webhook jobs that deliver them."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from gateway.core import logs, metrics

log = logging.getLogger("gateway.web.access")

HEADER = "X-Request-ID"
# what a proxy or a shop may send: printable, no spaces, short enough for a log line
_USABLE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")


def init_app(app: Flask) -> None:
    """Take or make the id first, answer with it, and log one line per request."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    app.teardown_request(_forget)


def _begin() -> None:
    given = request.headers.get(HEADER, "")
    rid = given if _USABLE.fullmatch(given) else uuid.uuid4().hex
    g.request_id = rid
    g.request_started = time.perf_counter()
    g.request_id_token = logs.request_id.set(rid)


def _finish(response: Response) -> Response:
    rid = g.get("request_id")
    if rid is None:  # a request refused before _begin ran
        return response
    response.headers[HEADER] = rid
    seconds = time.perf_counter() - g.request_started
    # the rule, not the path: ids in paths would make a label per order
    route = request.url_rule.rule if request.url_rule else "(no route)"
    metrics.HTTP_LATENCY.labels(request.method, route, str(response.status_code)).observe(seconds)
    log.info(
        "%s %s %s",
        request.method,
        route,
        response.status_code,
        extra={"status": response.status_code, "duration_ms": round(seconds * 1000, 1)},
    )
    return response


def _forget(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.request_id.reset(token)
