"""Deliveries through a real worker process, real Redis and a real HTTP receiver."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

from tests.webhooks.support import wait_until
from webhooks.models import Delivery, DeliveryAttempt


def _endpoint(client, merchant, url: str, types=("*",)) -> dict:
    response = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, "event_types": list(types)},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def _delivery(query, event_id: str) -> Delivery:
    return query(lambda s: s.scalar(sa.select(Delivery).where(Delivery.event_id == event_id)))


def _attempts(query, event_id: str) -> list[DeliveryAttempt]:
    return query(
        lambda s: s.scalars(
            sa.select(DeliveryAttempt)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.event_id == event_id)
            .order_by(DeliveryAttempt.seq)
        ).all()
    )


def test_delivery_is_signed_and_verifies_with_the_standard_library(
    client, merchant, receiver, emit, query, start_worker
):
    endpoint = _endpoint(client, merchant, receiver.url())
    start_worker()
    event_id = emit(merchant.id, "order.paid", {"id": "ord_1", "amount": "12.50"})

    [request] = wait_until(lambda: receiver.to("/hook"), what="the delivery")
    body = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert body["type"] == "order.paid"
    assert body["data"] == {"id": "ord_1", "amount": "12.50"}
    assert body["timestamp"].endswith("Z")
    assert request.headers["webhook-id"] == event_id
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("usdt-gateway-webhooks")

    tampered = request.body.replace(b"12.50", b"99.99")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(tampered, request.headers)
    old = str(int(request.headers["webhook-timestamp"]) - 600)
    stale = {**request.headers, "webhook-timestamp": old}
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(request.body, stale)

    wait_until(lambda: _delivery(query, event_id).status == "succeeded", what="success recorded")
    [attempt] = _attempts(query, event_id)
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "ok"
    assert attempt.latency_ms >= 0
