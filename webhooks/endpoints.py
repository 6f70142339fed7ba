"""Endpoint and delivery services for the API and the dashboard (no HTTP here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import utcnow
from webhooks import signing, ssrf
from webhooks.models import PENDING, Delivery, DeliveryAttempt, WebhookEndpoint


class EndpointDisabled(ValueError):
    """The delivery's endpoint is disabled; enable it before redelivering."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def create(
    session: Session, merchant_id: str, fields: dict[str, Any], allow_private: bool
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it and its secret (shown to the merchant this once)."""
    ssrf.check_url(fields["url"], allow_private)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(merchant_id=merchant_id, secret=secret, **fields)
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def update(
    endpoint: WebhookEndpoint, fields: dict[str, Any], allow_private: bool
) -> WebhookEndpoint:
    """Change url, event types, description or enabled; enabling clears the disabled reason."""
    if "url" in fields:
        ssrf.check_url(fields["url"], allow_private)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if fields.get("enabled"):
        endpoint.disabled_reason = None
    elif fields.get("enabled") is False:
        endpoint.disabled_reason = endpoint.disabled_reason or "disabled by the merchant"
    return endpoint


def rotate(endpoint: WebhookEndpoint, overlap_hours: int) -> str:
    """A new secret; the old one keeps signing beside it for ``overlap_hours``."""
    secret = signing.new_secret()
    if overlap_hours > 0:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utcnow() + timedelta(hours=overlap_hours)
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = secret
    return secret


def redeliver(endpoint: WebhookEndpoint, delivery: Delivery) -> Delivery:
    """Send a delivery again now, with a fresh retry schedule; its past attempts stay."""
    if not endpoint.enabled:
        raise EndpointDisabled(f"endpoint {endpoint.id} is disabled")
    delivery.status = PENDING
    delivery.attempt_count = 0
    delivery.next_attempt_at = utcnow()
    delivery.lease_until = delivery.enqueued_at = None
    return delivery


def serialize_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The API view of an endpoint; the secret is never part of it."""
    return {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "description": endpoint.description,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": _iso(endpoint.failing_since),
        "previous_secret_expires_at": _iso(
            endpoint.previous_secret_expires_at if endpoint.previous_secret else None
        ),
        "created_at": _iso(endpoint.created_at),
        "updated_at": _iso(endpoint.updated_at),
    }


def serialize_attempt(attempt: DeliveryAttempt) -> dict[str, Any]:
    """The API view of one attempt."""
    return {
        "id": attempt.id,
        "started_at": _iso(attempt.started_at),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response_excerpt": attempt.response_excerpt,
        "error": attempt.error,
    }


def serialize_delivery(delivery: Delivery, attempts: bool = False) -> dict[str, Any]:
    """The API view of a delivery, with its attempts when asked."""
    body = {
        "id": delivery.id,
        "object": "webhook_delivery",
        "event_id": delivery.event_id,
        "endpoint_id": delivery.endpoint_id,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "next_attempt_at": _iso(delivery.next_attempt_at if delivery.status == PENDING else None),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": _iso(delivery.created_at),
        "updated_at": _iso(delivery.updated_at),
        "delivered_at": _iso(delivery.delivered_at),
    }
    if attempts:
        body["attempts"] = [serialize_attempt(a) for a in delivery.attempts]
    return body
