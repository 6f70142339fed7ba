"""Per-credential rate limits: a moving window in Redis, IETF RateLimit-* headers."""

from __future__ import annotations

import time
import uuid

import pytest

ORDERS = "/api/v1/orders"
START = 1_800_000_000.0  # a minute boundary: 1,800,000,000 is divisible by 60


@pytest.fixture
def chain_settings():
    """No chain is needed here."""
    return {}


@pytest.fixture
def clock(monkeypatch):
    """The wall clock the limiter reads, moved by the test."""
    now = [START]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


@pytest.fixture
def limited(app, make_merchant):
    """A merchant whose key may make 3 requests a minute (a fresh key: a fresh window)."""
    app.config["GATEWAY"]["server"]["rate_limit_per_minute"] = 3
    return make_merchant(f"busy-{uuid.uuid4().hex[:6]}", xpubs={})


def test_a_minute_boundary_does_not_double_the_limit(client, limited, clock):
    clock[0] = START - 0.5  # the end of one calendar minute
    assert [client.get(ORDERS, headers=limited.headers).status_code for _ in range(3)] == [200] * 3
    clock[0] = START + 0.5  # one second later, in the next calendar minute
    refused = client.get(ORDERS, headers=limited.headers)
    assert refused.status_code == 429
    assert refused.json["code"] == "rate_limited"
    # the first of the three leaves the window 59 s from now
    assert refused.headers["Retry-After"] == "59"
    assert refused.headers["RateLimit-Remaining"] == "0"


def test_no_window_of_a_minute_holds_more_than_the_limit(client, limited, clock):
    accepted = []
    for step in range(240):  # two minutes across a boundary, one request every half second
        clock[0] = START - 30 + step * 0.5
        if client.get(ORDERS, headers=limited.headers).status_code == 200:
            accepted.append(clock[0])
    assert max(sum(1 for t in accepted if s <= t < s + 60) for s in accepted) == 3
    assert len(accepted) == 6  # and the limit comes back as the window slides


def test_answers_carry_ratelimit_headers(client, limited, clock):
    first = client.get(ORDERS, headers=limited.headers)
    assert first.headers["RateLimit-Limit"] == "3"
    assert first.headers["RateLimit-Remaining"] == "2"
    assert first.headers["RateLimit-Reset"] == "60"
    assert first.headers["RateLimit-Policy"] == "3;w=60"
    clock[0] += 20
    second = client.get(ORDERS, headers=limited.headers)
    assert (second.headers["RateLimit-Remaining"], second.headers["RateLimit-Reset"]) == ("1", "40")


def test_keys_have_their_own_budgets(client, limited, make_merchant, clock):
    calm = make_merchant("calm", xpubs={})
    for _ in range(4):
        client.get(ORDERS, headers=limited.headers)
    assert client.get(ORDERS, headers=limited.headers).status_code == 429
    assert client.get(ORDERS, headers=calm.headers).status_code == 200


def test_a_redis_outage_lets_requests_through(app, client, limited):
    app.config["GATEWAY"]["redis"]["url"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("ratelimit", None)
    assert client.get(ORDERS, headers=limited.headers).status_code == 200
