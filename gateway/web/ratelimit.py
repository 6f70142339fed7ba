"""Per-credential request limits: a moving window in Redis, shared by every web process.

The window is the ``limits`` library's moving window (a log of hit times per key in a
Redis sorted list, trimmed and appended by one Lua script), which is what flask-limiter
runs underneath. flask-limiter itself decides before the view runs and keys limits on
what the bare request shows; here the budget belongs to the credential, known only once
it has been verified, and keying on the unverified Authorization header would let anyone
who knows a key's public prefix spend its budget. So the check runs in ``auth.require``,
right after authentication, and answers with the IETF draft's ``RateLimit-*`` headers.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, current_app, g
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from gateway.core import metrics
from gateway.web.errors import fail

log = logging.getLogger(__name__)

WINDOW = 60  # seconds
NAMESPACE = "gateway-api"


def init_app(app: Flask) -> None:
    """Send the RateLimit-* headers on every answer whose credential was counted."""
    app.after_request(_headers)


def _limiter() -> MovingWindowRateLimiter:
    extensions = current_app.extensions
    if "ratelimit" not in extensions:
        url = current_app.config["GATEWAY"]["redis"]["url"]
        storage = storage_from_string(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, wrap_exceptions=True
        )
        extensions["ratelimit"] = MovingWindowRateLimiter(storage)
    return extensions["ratelimit"]


def check(identity: str) -> None:
    """Count one request of the credential ``identity``; 429 with Retry-After when over."""
    limit = current_app.config["GATEWAY"]["server"]["rate_limit_per_minute"]
    if not limit:
        return
    item = RateLimitItemPerMinute(limit)
    limiter = _limiter()
    try:
        allowed = limiter.hit(item, NAMESPACE, identity)
        oldest_expires, remaining = limiter.get_window_stats(item, NAMESPACE, identity)
    except (StorageError, RedisError) as exc:
        # failing open: a Redis outage must not stop shops from creating orders
        log.warning("rate limit not checked, redis unavailable: %s", type(exc).__name__)
        return
    # the window frees a request when its oldest hit leaves it
    reset = max(0, math.ceil(oldest_expires - time.time()))
    g.rate_limit = (limit, remaining, reset)
    if not allowed:
        metrics.RATE_LIMITED.inc()
        fail(
            429,
            "rate_limited",
            f"more than {limit} requests a minute with this credential",
            headers={"Retry-After": str(max(1, reset))},
        )


def _headers(response: Response) -> Response:
    counted = g.get("rate_limit")
    if counted is not None:
        limit, remaining, reset = counted
        response.headers["RateLimit-Limit"] = str(limit)
        response.headers["RateLimit-Remaining"] = str(remaining)
        response.headers["RateLimit-Reset"] = str(reset)
        response.headers["RateLimit-Policy"] = f"{limit};w={WINDOW}"
    return response
