"""Per-key request limits, counted in Redis so every web process shares them."""

from __future__ import annotations

import logging
import time

import redis
from flask import current_app

from gateway.errors import fail

log = logging.getLogger(__name__)

WINDOW = 60  # seconds


def _client() -> redis.Redis:
    extensions = current_app.extensions
    if "ratelimit.redis" not in extensions:
        url = current_app.config["GATEWAY"]["redis"]["url"]
        extensions["ratelimit.redis"] = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
    return extensions["ratelimit.redis"]


def check(key_id: str) -> None:
    """Count one request of ``key_id``; a 429 with Retry-After once over the limit."""
    limit = current_app.config["GATEWAY"]["server"]["rate_limit_per_minute"]
    if not limit:
        return
    now = time.time()
    name = f"gateway:ratelimit:{key_id}:{int(now // WINDOW)}"
    try:
        pipe = _client().pipeline()
        pipe.incr(name)
        pipe.expire(name, 2 * WINDOW)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        # failing open: a Redis outage must not stop shops from creating orders
        log.warning("rate limit not checked, redis unavailable: %s", type(exc).__name__)
        return
    if count > limit:
        retry = max(1, int(WINDOW - now % WINDOW))
        fail(
            429,
            "rate_limited",
            f"more than {limit} requests a minute with this API key",
            headers={"Retry-After": str(retry)},
        )
