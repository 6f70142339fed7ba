"""Liveness (/healthz) and readiness (/readyz) for load balancers and operators.

/readyz checks the database (reachable, migrations at head), Redis, each chain's watcher
(blocks behind the node's head, seconds since its last step) and the webhook queue (due
deliveries, the oldest one's wait). Everyone learns which parts fail; only operators
(gateway.web.ops) get the figures, and nobody gets an error message, which could hold a
URL with credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify

from gateway.core.models import ChainCursor, utcnow
from gateway.web import db
from gateway.web.chains import drivers
from webhooks.models import Delivery, DeliveryStatus
from webhooks.runtime import redis_client

bp = Blueprint("health", __name__)
MIGRATIONS = Path(__file__).parents[1] / "migrations"

Check = tuple[bool, dict[str, Any]]


@bp.get("/healthz")
def healthz():
    """The process answers: nothing else is asked."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """200 when every part works, else 503 naming the failing parts."""
    from gateway.web.ops import is_operator

    checks: dict[str, Callable[[], Check]] = {
        "database": _database,
        "redis": _redis,
        **{f"chain:{name}": _watcher(name) for name in sorted(drivers())},
        "webhooks": _webhooks,
    }
    results: dict[str, Check] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:
            results[name] = (False, {"error": type(exc).__name__})
    failing = [name for name, (ok, _) in results.items() if not ok]
    body: dict[str, Any] = {
        "status": "failing" if failing else "ok",
        "checks": {name: "ok" if ok else "failing" for name, (ok, _) in results.items()},
    }
    if is_operator():
        body["details"] = {name: details for name, (_, details) in results.items()}
    response = jsonify(body)
    response.status_code = 503 if failing else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _settings() -> dict[str, Any]:
    return current_app.config["GATEWAY"]["ops"]


def _database() -> Check:
    session = db.session()
    current = session.scalar(sa.text("SELECT version_num FROM alembic_version"))
    head = _head()
    return current == head, {"revision": current, "head": head}


def _head() -> str | None:
    """The newest migration this code ships (read once: it cannot change while running)."""
    if "health.head" not in current_app.extensions:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        current_app.extensions["health.head"] = ScriptDirectory.from_config(
            config
        ).get_current_head()
    return current_app.extensions["health.head"]


def _redis() -> Check:
    client = current_app.extensions.get("health.redis")
    if client is None:
        client = redis_client(current_app.config["GATEWAY"]["redis"]["url"])
        current_app.extensions["health.redis"] = client
    return bool(client.ping()), {}


def _watcher(chain: str) -> Callable[[], Check]:
    def check() -> Check:
        cursor = db.session().get(ChainCursor, chain)
        if cursor is None or cursor.head is None:
            return False, {"error": "never watched"}
        lag = max(0, cursor.head - (cursor.next_block - 1))
        since = (utcnow() - cursor.updated_at).total_seconds()
        limits = _settings()
        ok = lag <= limits["max_lag_blocks"] and since <= limits["max_step_age_seconds"]
        return ok, {"lag_blocks": lag, "seconds_since_step": round(since, 1)}

    return check


def _webhooks() -> Check:
    now = utcnow()
    due, oldest = (
        db.session()
        .execute(
            sa.select(sa.func.count(), sa.func.min(Delivery.next_attempt_at)).where(
                Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now
            )
        )
        .one()
    )
    waited = 0.0 if oldest is None else (now - oldest).total_seconds()
    ok = waited <= _settings()["max_due_delivery_seconds"]
    return ok, {"due": due, "oldest_due_seconds": round(waited, 1)}
