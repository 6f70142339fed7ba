"""Endpoint and delivery services for the API and the dashboard (no HTTP here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from gateway.core.models import utcnow
from webhooks import signing, ssrf
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint


class EndpointDisabled(ValueError):
    """The delivery's endpoint is disabled; enable it before redelivering."""


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
    delivery.status = DeliveryStatus.PENDING
    delivery.attempt_count = 0
    delivery.next_attempt_at = utcnow()
    # The lease stays: an attempt in flight keeps it, so no second copy is sent beside it.
    # That attempt finds a schedule other than the one it claimed, records itself without
    # touching this one, and the sweep sends the delivery as soon as the lease is off.
    delivery.enqueued_at = None
    return delivery
