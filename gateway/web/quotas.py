"""Daily quotas per merchant on what creates things: orders, payouts, webhook endpoints.

Counted in Redis per UTC day (one atomic INCR, shared by every web process); a creation
that did not happen (an error, an idempotent replay) gives its unit back. Over the quota
the answer is 429 ``quota_exceeded`` with the reset time. Redis down: not counted.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import redis
from flask import Response, current_app, g

from gateway.core import metrics
from gateway.core.models import utcnow
from gateway.core.schemas import iso
from gateway.web.errors import fail

log = logging.getLogger(__name__)


def _client() -> redis.Redis:
    extensions = current_app.extensions
    if "quotas.redis" not in extensions:
        url = current_app.config["GATEWAY"]["redis"]["url"]
        extensions["quotas.redis"] = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
    return extensions["quotas.redis"]


def _next_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def quota(name: str) -> Callable:
    """Decorator (under ``auth.require``): the view creates one ``name`` of the merchant's
    ``[quotas] <name>_per_day``."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            limit = current_app.config["GATEWAY"]["quotas"][f"{name}_per_day"]
            if not limit:
                return view(*args, **kwargs)
            now = utcnow()
            key = f"gateway:quota:{name}:{g.merchant_id}:{now:%Y%m%d}"
            try:
                client = _client()
                pipe = client.pipeline()
                pipe.incr(key)
                pipe.expire(key, 2 * 24 * 3600)
                used, _ = pipe.execute()
            except redis.RedisError as exc:
                log.warning("quota not counted, redis unavailable: %s", type(exc).__name__)
                return view(*args, **kwargs)
            if used > limit:
                client.decr(key)
                reset = _next_midnight(now)
                metrics.QUOTA_REFUSED.labels(name).inc()
                fail(
                    429,
                    "quota_exceeded",
                    f"the daily quota of {limit} {name.replace('_', ' ')} is used up;"
                    f" it resets at {iso(reset)}",
                    headers={"Retry-After": str(int((reset - now).total_seconds()) + 1)},
                    extra={"reset_at": iso(reset)},
                )
            created = False
            try:
                response = view(*args, **kwargs)
                status = response.status_code if isinstance(response, Response) else 201
                created = 200 <= status < 300 and not g.get("idempotent_replay")
                return response
            finally:
                if not created:
                    _give_back(client, key)

        return wrapper

    return decorator


def _give_back(client: redis.Redis, key: str) -> None:
    # if Redis fails now the unit stays counted: the quota errs on the strict side for a day
    with contextlib.suppress(redis.RedisError):
        client.decr(key)
