"""Event feed fixtures: no chains, Redis for the streams, short heartbeats, an SSE reader."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from gateway.core import events
from gateway.web import db
from tests.events.sse import SseReader

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def chain_settings() -> dict[str, Any]:
    """Events need no chain: no devnet is started for these tests."""
    return {}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The shared test settings plus Redis and quick heartbeats."""
    app_config["redis"] = {"url": REDIS_URL}
    app_config["events"] = {"heartbeat_seconds": 0.5, "streams_per_key": 2}
    return app_config


@pytest.fixture
def merchant(make_merchant):
    """A merchant with every scope (no xpub: events need none)."""
    return make_merchant("shop", xpubs={})


@pytest.fixture
def other_merchant(make_merchant):
    """A second merchant, to prove isolation."""
    return make_merchant("other", xpubs={})


@pytest.fixture
def emit(app: Flask) -> Callable[..., str]:
    """Write an event as a state change would (and announce it); returns its id."""

    def emit_(merchant_id: str, type_: str = "order.created", data: dict | None = None) -> str:
        with app.app_context(), db.transaction() as session:
            event = events.record(session, merchant_id, type_, data or {"id": "ord_test"})
            session.flush()
            return event.id

    return emit_


@pytest.fixture
def sse(server: str) -> Iterator[Callable[..., SseReader]]:
    """Open SSE streams on the live server; all closed at teardown."""
    opened: list[SseReader] = []

    def open_(path: str, headers: dict[str, str] | None = None, **params: Any) -> SseReader:
        reader = SseReader(server + path, headers or {}, params)
        opened.append(reader)
        return reader

    yield open_
    for reader in opened:
        reader.close()
