"""Verifying a webhook the gateway sent: Standard Webhooks, with its 5-minute tolerance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError as _LibraryError

from gateway_client.errors import WebhookVerificationError
from gateway_client.types import Event


def verify_webhook(payload: bytes | str, headers: Mapping[str, str], secret: str) -> Event:
    """The event in ``payload`` if its signature and timestamp verify with ``secret``.

    Pass the raw body, exactly as received, and the request's headers. Raises
    :class:`WebhookVerificationError` for a forged, altered or replayed message. The
    event's id is the ``webhook-id`` header: dedupe on it, deliveries are at least once.
    """
    body = payload.decode() if isinstance(payload, bytes) else payload
    try:
        event = Webhook(secret).verify(body, dict(headers))
    except _LibraryError as exc:
        raise WebhookVerificationError(str(exc)) from exc
    event = dict(event)
    webhook_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id")
    if webhook_id:
        event.setdefault("id", webhook_id)
    return cast(Event, event)
