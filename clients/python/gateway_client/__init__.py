"""Python client of the USDT Gateway API."""

from gateway_client.client import Gateway
from gateway_client.errors import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    GatewayError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    WebhookVerificationError,
)
from gateway_client.events import EventStream
from gateway_client.types import Delivery, Event, Order, Page, Payment, Payout, WebhookEndpoint
from gateway_client.webhooks import verify_webhook

__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "ConflictError",
    "Delivery",
    "Event",
    "EventStream",
    "Gateway",
    "GatewayError",
    "InvalidRequestError",
    "NotFoundError",
    "Order",
    "Page",
    "Payment",
    "Payout",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "WebhookEndpoint",
    "WebhookVerificationError",
    "verify_webhook",
]
