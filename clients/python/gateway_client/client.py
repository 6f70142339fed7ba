"""The client: one object, one attribute per resource."""

from __future__ import annotations

import requests

from gateway_client._http import Transport
from gateway_client.events import Events
from gateway_client.resources import (
    Balances,
    Orders,
    Payouts,
    PayoutWallets,
    WebhookDeliveries,
    WebhookEndpoints,
)


class Gateway:
    """A USDT Gateway at ``base_url`` (``https://pay.example.com``), called with ``api_key``.

    Every call retries 429, 5xx and network errors with exponential backoff (honouring
    Retry-After) up to ``max_retries`` times; every POST carries an Idempotency-Key, the
    same on each retry, so a retry never creates a second order or payout. Errors are
    :class:`~gateway_client.errors.GatewayError` subclasses carrying the API's ``code``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        self.transport = Transport(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            session=session,
        )
        self.orders = Orders(self.transport)
        self.webhook_endpoints = WebhookEndpoints(self.transport)
        self.webhook_deliveries = WebhookDeliveries(self.transport)
        self.events = Events(self.transport)
        self.balances = Balances(self.transport)
        self.payouts = Payouts(self.transport)
        self.payout_wallets = PayoutWallets(self.transport)

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.session.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
