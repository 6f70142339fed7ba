"""Streams end on their own, and without Redis new ones are refused while open ones go on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhooks.support import RedisServer

STREAM = "/api/v1/events/stream"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server the test may stop."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, own_redis):
    """Streams last two seconds, on a Redis the test can stop."""
    app_config["redis"] = {"url": own_redis.url}
    app_config["events"]["stream_max_seconds"] = 2
    return app_config


def test_a_stream_ends_after_its_time_and_tells_clients_when_to_reconnect(sse, merchant):
    stream = sse(STREAM, merchant.headers)
    assert stream.status == 200
    assert stream.ended.wait(10)


def test_without_redis_new_streams_are_503_and_open_ones_still_deliver(
    sse, merchant, emit, own_redis
):
    stream = sse(STREAM, merchant.headers)
    assert stream.status == 200
    own_redis.stop()
    refused = sse(STREAM, merchant.headers)
    assert refused.status == 503 and refused.response.json()["code"] == "stream_unavailable"
    assert refused.response.headers["Retry-After"] == "5"
    made = emit(merchant.id)  # unannounced: the open stream finds it by reading again
    assert stream.next(timeout=5).id == made
