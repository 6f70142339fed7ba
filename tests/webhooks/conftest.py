"""Webhook fixtures: no chains, a queue per test, a receiver, and real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from gateway.core import events
from gateway.core.models import Event
from gateway.web import db
from tests.webhooks.support import Receiver, RedisServer
from webhooks import runtime

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS", "redis://127.0.0.1:6379/0")
# short enough for tests, long enough that every retry is visibly scheduled
TEST_SCHEDULE = "0.2 0.2 0.2"


@pytest.fixture
def chain_settings() -> dict[str, Any]:
    """Webhooks need no chain: no devnet is started for these tests."""
    return {}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The shared test settings plus Redis, a private queue and a short retry schedule."""
    app_config["redis"] = {"url": REDIS_URL}
    app_config["webhooks"] = {
        "allow_private_targets": True,
        "queue": f"test-webhooks-{uuid.uuid4().hex[:10]}",
        "retry_schedule": TEST_SCHEDULE,
        "timeout": 2.0,
        "dispatch_interval": 0.1,
    }
    return app_config


@pytest.fixture
def merchant(make_merchant):
    """A merchant with every scope (no xpub: webhooks need none)."""
    return make_merchant("shop", xpubs={})


@pytest.fixture
def other_merchant(make_merchant):
    """A second merchant, to prove isolation."""
    return make_merchant("other", xpubs={})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP receiver that records every request."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server the test may stop and restart."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emit(app: Flask) -> Callable[..., str]:
    """Write an event to the outbox as a state change would; returns its id."""

    def emit_(merchant_id: str, type_: str = "order.created", data: dict | None = None) -> str:
        with app.app_context(), db.transaction() as session:
            event = events.record(
                session, merchant_id, type_, data or {"id": "ord_test", "amount": "12.50"}
            )
            session.flush()
            return event.id

    return emit_


@pytest.fixture
def query(app: Flask) -> Callable[..., Any]:
    """Run ``fn(session)`` in a fresh session of the test database and return its result."""

    def run(fn: Callable[[Any], Any]) -> Any:
        with app.app_context(), db.transaction() as session:
            return fn(session)

    return run


@pytest.fixture
def local_runtime(app: Flask) -> Iterator[runtime.Runtime]:
    """The webhook runtime of this test process, on the test database and queue."""
    rt = runtime.configure(app.config["GATEWAY"])
    yield rt
    rt.queue.empty()
    rt.engine.dispose()
    runtime.reset()


@pytest.fixture
def start_worker(app_config: dict[str, Any]) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``gateway worker`` processes on the test database; stopped at teardown."""
    started: list[subprocess.Popen] = []

    def start(args: tuple[str, ...] | list[str] = (), **webhooks: Any) -> subprocess.Popen:
        settings = {**app_config["webhooks"], **webhooks}
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env["GATEWAY_DATABASE__URL"] = app_config["database"]["url"]
        env["GATEWAY_REDIS__URL"] = settings.pop("redis_url", app_config["redis"]["url"])
        for key, value in settings.items():
            env[f"GATEWAY_WEBHOOKS__{key.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.worker", *args],
            env=env,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def undispatched(session) -> int:
    """How many events are still waiting in the outbox."""
    return session.scalar(sa.select(sa.func.count()).where(Event.dispatched_at.is_(None)))
