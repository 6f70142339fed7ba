"""Events through the client: list, catch up, and iterate the live stream (resuming)."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from gateway_client import verify_webhook
from gateway_client.errors import WebhookVerificationError


@pytest.fixture
def app_config(app_config):
    """Redis for the streams, quick heartbeats."""
    from conftest import REDIS_URL

    app_config["redis"] = {"url": REDIS_URL}
    app_config["events"] = {"heartbeat_seconds": 0.5}
    return app_config


def follow(stream, into: queue.Queue) -> threading.Thread:
    """Iterate ``stream`` in a thread; return once the gateway has answered it."""

    def run() -> None:
        for event in stream:
            into.put(event)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not stream.connected:
        assert time.monotonic() < deadline, "the stream never connected"
        time.sleep(0.01)
    return thread


def test_list_and_catch_up(gateway):
    made = [gateway.orders.create("1", "devnet", f"c-{n}") for n in range(3)]
    events = gateway.events.list(type="order.created")
    assert [e["data"]["id"] for e in events] == [o["id"] for o in reversed(made)]
    first = events.data[-1]["id"]
    caught = list(gateway.events.catch_up(after=first))
    assert [e["data"]["id"] for e in caught] == [o["id"] for o in made[1:]]
    assert all(e["api_version"] == "v1" for e in caught)


def test_the_stream_iterates_live_events_and_resumes_from_last_event_id(gateway):
    got: queue.Queue = queue.Queue()
    stream = gateway.events.stream(type=["order.created", "order.cancelled"])
    follow(stream, got)
    first = gateway.orders.create("2", "devnet", "live-1")
    event = got.get(timeout=10)
    while event["data"]["id"] != first["id"]:
        event = got.get(timeout=10)
    assert event["type"] == "order.created" and stream.last_event_id == event["id"]
    stream.close()
    gateway.orders.cancel(first["id"])  # while nobody listens
    resumed = gateway.events.stream(last_event_id=event["id"])
    again: queue.Queue = queue.Queue()
    follow(resumed, again)
    missed = again.get(timeout=10)
    assert (missed["type"], missed["data"]["id"]) == ("order.cancelled", first["id"])
    resumed.close()


def test_verify_webhook_accepts_the_real_signature_and_refuses_a_forgery():
    from standardwebhooks import Webhook

    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"type":"order.paid","api_version":"v1","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("evt_1", now, body),
    }
    event = verify_webhook(body.encode(), headers, secret)
    assert (event["type"], event["id"]) == ("order.paid", "evt_1")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body.replace("paid", "created"), headers, secret)
