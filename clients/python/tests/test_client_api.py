"""The client against a live gateway: typed calls, pages, errors with the API's code."""

from __future__ import annotations

from decimal import Decimal

import pytest
from gateway_client import (
    AuthenticationError,
    Gateway,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)


def test_orders_are_created_read_listed_and_cancelled(gateway):
    order = gateway.orders.create(Decimal("12.50"), "devnet", "cart-1", metadata={"n": "1"})
    assert (order["status"], order["amount"], order["metadata"]) == ("pending", "12.5", {"n": "1"})
    assert order["checkout_url"].endswith(f"/pay/{order['id']}")
    assert gateway.orders.get(order["id"])["id"] == order["id"]
    assert gateway.orders.payments(order["id"]) == []
    more = [gateway.orders.create("1", "devnet", f"more-{n}") for n in range(3)]
    page = gateway.orders.list(limit=2)
    assert [o["id"] for o in page] == [more[2]["id"], more[1]["id"]] and page.has_more
    every = [o["id"] for o in page.auto_paging_iter()]
    assert every == [o["id"] for o in reversed([order, *more])]
    assert gateway.orders.list(reference="cart-1").data[0]["id"] == order["id"]
    assert gateway.orders.cancel(order["id"])["status"] == "cancelled"
    with pytest.raises(TypeError):
        gateway.orders.create(1.5, "devnet", "float")  # type: ignore[arg-type]


def test_a_given_idempotency_key_returns_the_first_order(gateway):
    first = gateway.orders.create("5", "devnet", "cart-9", idempotency_key="cart-9")
    again = gateway.orders.create("5", "devnet", "cart-9", idempotency_key="cart-9")
    assert again == first


def test_errors_carry_the_apis_code_status_and_fields(gateway, server, make_merchant):
    with pytest.raises(InvalidRequestError) as caught:
        gateway.orders.create("1.1234567", "devnet", "x")
    error = caught.value
    assert (error.status, error.code) == (422, "validation_error")
    assert "amount" in error.errors and error.request_id
    with pytest.raises(NotFoundError) as missing:
        gateway.orders.get("ord_nope")
    assert missing.value.code == "order_not_found"
    with pytest.raises(AuthenticationError) as refused:
        Gateway(server, "gwk_nope_nope").orders.list()
    assert refused.value.code == "invalid_api_key"
    narrow = make_merchant("narrow", scopes="orders:read", xpubs={})
    with pytest.raises(PermissionDeniedError) as scope:
        Gateway(server, narrow.key).events.list()
    assert scope.value.code == "insufficient_scope"


def test_webhook_endpoints_and_deliveries(gateway):
    endpoint = gateway.webhook_endpoints.create(
        "https://shop.example/hook", ["order.paid"], description="shop"
    )
    assert endpoint["secret"].startswith("whsec_")
    assert gateway.webhook_endpoints.get(endpoint["id"])["description"] == "shop"
    updated = gateway.webhook_endpoints.update(endpoint["id"], enabled=False)
    assert updated["enabled"] is False
    assert gateway.webhook_endpoints.rotate_secret(endpoint["id"])["secret"] != endpoint["secret"]
    assert [e["id"] for e in gateway.webhook_endpoints.list()] == [endpoint["id"]]
    assert gateway.webhook_deliveries.list().data == []
    gateway.webhook_endpoints.delete(endpoint["id"])
    with pytest.raises(NotFoundError):
        gateway.webhook_endpoints.get(endpoint["id"])


def test_balances_and_payouts(gateway):
    balances = gateway.balances.list()
    assert [b["chain"] for b in balances] == ["devnet"]
    assert gateway.balances.addresses().data == []
    assert gateway.payouts.list().data == []
    with pytest.raises(Exception) as refused:
        gateway.payouts.create("devnet", "0x" + "11" * 20, "1", "invoice 1")
    assert refused.value.code == "no_payout_wallet"  # type: ignore[attr-defined]
