"""Daily quotas per merchant: 429 quota_exceeded with the reset time; what was not created
(an error, an idempotent replay) does not count."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from gateway.core.models import utcnow

ORDERS = "/api/v1/orders"
ENDPOINTS = "/api/v1/webhook-endpoints"
ORDER = {"amount": "5", "chain": "devnet", "reference": "q"}


@pytest.fixture
def limited(app, make_merchant):
    """Two orders and one webhook endpoint a day; a fresh merchant: a fresh count."""
    app.config["GATEWAY"]["quotas"].update(orders_per_day=2, webhook_endpoints_per_day=1)
    return make_merchant(f"quota-{uuid.uuid4().hex[:6]}")


def test_the_third_order_of_the_day_is_refused_until_midnight(client, limited, make_merchant):
    assert client.post(ORDERS, json={"amount": "0"}, headers=limited.headers).status_code == 422
    replayed = {**limited.headers, "Idempotency-Key": "same"}
    assert client.post(ORDERS, json=ORDER, headers=replayed).status_code == 201
    assert client.post(ORDERS, json=ORDER, headers=replayed).status_code == 201  # a replay
    assert client.post(ORDERS, json=ORDER, headers=limited.headers).status_code == 201
    refused = client.post(ORDERS, json=ORDER, headers=limited.headers)
    assert (refused.status_code, refused.json["code"]) == (429, "quota_exceeded")
    midnight = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    assert refused.json["reset_at"] == midnight
    assert midnight in refused.json["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 86401
    other = make_merchant(f"other-{uuid.uuid4().hex[:6]}")
    assert client.post(ORDERS, json=ORDER, headers=other.headers).status_code == 201


def test_webhook_endpoints_have_their_own_quota(client, limited):
    hook = {"url": "https://shop.example/hook", "event_types": ["*"]}
    assert client.post(ENDPOINTS, json=hook, headers=limited.headers).status_code == 201
    refused = client.post(ENDPOINTS, json=hook, headers=limited.headers)
    assert refused.json["code"] == "quota_exceeded"
    assert client.post(ORDERS, json=ORDER, headers=limited.headers).status_code == 201
