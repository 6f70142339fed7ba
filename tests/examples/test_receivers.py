"""The example receivers (Python, Node, PHP) take a real signed delivery from a running
gateway and refuse a tampered copy, a replay older than 5 minutes and a forged signature."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.examples.receivers import Relay, start
from tests.webhooks.support import wait_until
from webhooks import signing

LANGUAGES = ["python", "node", "php"]


@pytest.fixture(params=LANGUAGES)
def language(request) -> str:
    return request.param


@pytest.fixture
def database_url(tmp_path, sqlite_template_path) -> str:
    """SQLite only: the receivers, not the database, are under test."""
    from tests.support.databases import sqlite_copy

    return sqlite_copy(sqlite_template_path, tmp_path)


def resend(url: str, body: bytes, headers: dict[str, str]) -> int:
    return requests.post(url, data=body, headers=headers, timeout=10).status_code


def signed(secret: str, msg_id: str, timestamp: int, body: bytes, *extra: str) -> dict:
    signature = " ".join([*extra, signing.sign(secret, msg_id, timestamp, body)])
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_the_receiver_verifies_real_deliveries_and_refuses_forgeries(
    language,
    client,
    merchant,
    emit,
    start_worker,
):
    # the endpoint first, for its secret; then the receiver, started with it
    relay = Relay("http://127.0.0.1:9/unset")
    endpoint = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": relay.url, "event_types": ["order.paid"]},
        headers=merchant.headers,
    ).json
    secret = endpoint["secret"]
    receiver = start(language, secret)
    relay.target = receiver.url
    try:
        event_id = emit(merchant.id, "order.paid", {"id": "ord_1", "amount": "25"})
        start_worker()
        delivered = wait_until(lambda: relay.passed, 30, "the delivery")[0]
        assert delivered.status == 200, receiver.stop()  # accepted
        assert delivered.headers["webhook-id"] == event_id
        answer = client.get(
            "/api/v1/webhook-deliveries", query_string={"event_id": event_id},
            headers=merchant.headers,
        ).json["data"][0]  # fmt: skip
        wait_until(
            lambda: client.get(
                f"/api/v1/webhook-deliveries/{answer['id']}", headers=merchant.headers
            ).json["status"] == "succeeded",
            10, "the gateway to record the success",
        )  # fmt: skip
        body, headers = delivered.body, delivered.headers

        # the same bytes with one value changed
        tampered = body.replace(b'"amount":"25"', b'"amount":"2500"')
        assert tampered != body
        assert resend(receiver.url, tampered, headers) == 400
        # a replay of the real message signed over 5 minutes ago
        old = int(time.time()) - 301
        assert resend(receiver.url, body, signed(secret, event_id, old, body)) == 400
        # ... and one claiming to come from the future
        ahead = int(time.time()) + 301
        assert resend(receiver.url, body, signed(secret, event_id, ahead, body)) == 400
        # a signature made with another secret
        other = signing.new_secret()
        assert resend(receiver.url, body, signed(other, event_id, int(time.time()), body)) == 400
        # rotation: any one matching v1 signature among several is enough
        now = int(time.time())
        fresh = json.dumps({**json.loads(body), "data": {"id": "ord_2"}}).encode()
        rotated = signed(secret, "evt_rotated", now, fresh, signing.sign(other, "x", now, fresh))
        assert resend(receiver.url, fresh, rotated) == 200
    finally:
        output = receiver.stop()
        relay.close()
    assert f"accepted order.paid {event_id}" in output
    assert "rejected" in output
