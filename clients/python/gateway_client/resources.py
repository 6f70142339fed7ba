"""Typed methods for orders, webhook endpoints and deliveries, balances and payouts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway_client._http import Transport
from gateway_client.types import Delivery, Order, Page, Payment, Payout, WebhookEndpoint


def _amount(value: str | Decimal | int) -> str:
    # the API takes decimal strings only: a float would have lost cents already
    if isinstance(value, float):
        raise TypeError("amounts are str or Decimal, never float")
    return str(value)


class _Resource:
    path = ""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _page(self, path: str, params: dict[str, Any]) -> Page[Any]:
        answer = self._t.json("GET", path, params=params)

        def following(last: str) -> Page[Any]:
            return self._page(path, {**params, "starting_after": last})

        return Page(answer["data"], answer["has_more"], following)

    def _post(self, path: str, body: Any = None, idempotency_key: str | None = None) -> Any:
        return self._t.json("POST", path, json=body, idempotency_key=idempotency_key)


class Orders(_Resource):
    """``/api/v1/orders``."""

    path = "/api/v1/orders"

    def create(
        self,
        amount: str | Decimal,
        chain: str,
        reference: str,
        *,
        metadata: dict[str, Any] | None = None,
        expires_in: int | None = None,
        idempotency_key: str | None = None,
    ) -> Order:
        """Create an order; retries reuse one Idempotency-Key (yours, if given)."""
        body: dict[str, Any] = {"amount": _amount(amount), "chain": chain, "reference": reference}
        if metadata is not None:
            body["metadata"] = metadata
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self._post(self.path, body, idempotency_key)

    def get(self, order_id: str) -> Order:
        """One order."""
        return self._t.json("GET", f"{self.path}/{order_id}")

    def list(
        self, *, limit: int = 20, starting_after: str | None = None, **filters: Any
    ) -> Page[Order]:
        """Orders, newest first; filters ``status``, ``chain``, ``reference``, ``created_gte``..."""
        return self._page(self.path, {"limit": limit, "starting_after": starting_after, **filters})

    def payments(self, order_id: str) -> list[Payment]:
        """Every transfer seen to the order's address, oldest first."""
        return self._t.json("GET", f"{self.path}/{order_id}/payments")["data"]

    def cancel(self, order_id: str) -> Order:
        """Cancel an order that has received nothing."""
        return self._post(f"{self.path}/{order_id}/cancel")

    def refund(self, order_id: str, to: str, amount: str | Decimal, **fields: Any) -> Payout:
        """Pay money of this order back (a payout limited to what it may refund)."""
        body = {"to": to, "amount": _amount(amount), **fields}
        return self._post(f"{self.path}/{order_id}/refunds", body)


class WebhookEndpoints(_Resource):
    """``/api/v1/webhook-endpoints``."""

    path = "/api/v1/webhook-endpoints"

    def create(
        self,
        url: str,
        event_types: list[str],
        *,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> WebhookEndpoint:
        """Register an endpoint; the answer's ``secret`` is shown this once."""
        body = {"url": url, "event_types": event_types, "description": description}
        return self._post(self.path, body, idempotency_key)

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        """One endpoint (without its secret)."""
        return self._t.json("GET", f"{self.path}/{endpoint_id}")

    def list(self, *, limit: int = 20, starting_after: str | None = None) -> Page[WebhookEndpoint]:
        """Endpoints, newest first."""
        return self._page(self.path, {"limit": limit, "starting_after": starting_after})

    def update(self, endpoint_id: str, **fields: Any) -> WebhookEndpoint:
        """Change ``url``, ``event_types``, ``description`` or ``enabled``."""
        return self._t.json("PATCH", f"{self.path}/{endpoint_id}", json=fields)

    def delete(self, endpoint_id: str) -> None:
        """Delete an endpoint and its delivery history."""
        self._t.json("DELETE", f"{self.path}/{endpoint_id}")

    def rotate_secret(self, endpoint_id: str) -> WebhookEndpoint:
        """A new secret (in the answer); the old one signs too for the overlap."""
        return self._post(f"{self.path}/{endpoint_id}/rotate-secret")


class WebhookDeliveries(_Resource):
    """``/api/v1/webhook-deliveries``."""

    path = "/api/v1/webhook-deliveries"

    def list(
        self, *, limit: int = 20, starting_after: str | None = None, **filters: Any
    ) -> Page[Delivery]:
        """Deliveries, newest first; filters ``endpoint_id``, ``event_id``, ``status``."""
        return self._page(self.path, {"limit": limit, "starting_after": starting_after, **filters})

    def get(self, delivery_id: str) -> Delivery:
        """One delivery with its attempts."""
        return self._t.json("GET", f"{self.path}/{delivery_id}")

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send it again, with a fresh retry schedule."""
        return self._post(f"{self.path}/{delivery_id}/redeliver")


class Balances(_Resource):
    """``/api/v1/balances``."""

    path = "/api/v1/balances"

    def list(self) -> list[dict[str, Any]]:
        """Per chain: received, pending, and the payout wallet's available and reserved."""
        return self._t.json("GET", self.path)["data"]

    def addresses(
        self, *, limit: int = 20, starting_after: str | None = None, **filters: Any
    ) -> Page[dict[str, Any]]:
        """Deposit addresses holding received money, with their key paths."""
        params = {"limit": limit, "starting_after": starting_after, **filters}
        return self._page(f"{self.path}/addresses", params)


class Payouts(_Resource):
    """``/api/v1/payouts``."""

    path = "/api/v1/payouts"

    def create(
        self,
        chain: str,
        to: str,
        amount: str | Decimal,
        reference: str,
        *,
        order_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payout:
        """Ask for a payout; its amount is reserved at once."""
        body: dict[str, Any] = {
            "chain": chain, "to": to, "amount": _amount(amount), "reference": reference,
        }  # fmt: skip
        if order_id:
            body["order_id"] = order_id
        return self._post(self.path, body, idempotency_key)

    def get(self, payout_id: str) -> Payout:
        """One payout."""
        return self._t.json("GET", f"{self.path}/{payout_id}")

    def list(
        self, *, limit: int = 20, starting_after: str | None = None, **filters: Any
    ) -> Page[Payout]:
        """Payouts, newest first."""
        return self._page(self.path, {"limit": limit, "starting_after": starting_after, **filters})

    def approve(self, payout_id: str) -> Payout:
        """Approve (with another key than the one that asked for it)."""
        return self._post(f"{self.path}/{payout_id}/approve")

    def cancel(self, payout_id: str) -> Payout:
        """Cancel until it is broadcast; its reserve is given back."""
        return self._post(f"{self.path}/{payout_id}/cancel")

    def submit_signed(self, payout_id: str, raw: str) -> Payout:
        """An external wallet's signed transaction for an approved payout."""
        return self._post(f"{self.path}/{payout_id}/signed", {"raw": raw})


class PayoutWallets(_Resource):
    """``/api/v1/payout-wallets``."""

    path = "/api/v1/payout-wallets"

    def create(self, chain: str, mode: str = "hot", address: str | None = None) -> dict[str, Any]:
        """A hot wallet (the gateway keeps its key) or an external one (yours)."""
        body = {"chain": chain, "mode": mode, **({"address": address} if address else {})}
        return self._post(self.path, body)

    def list(self) -> list[dict[str, Any]]:
        """Every payout wallet."""
        return self._t.json("GET", self.path)["data"]
