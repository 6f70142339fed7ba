"""API keys: 401 without a valid key, 403 without the scope or from a foreign IP,
404 for another merchant's data on every route."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.core.models import ApiKey, Order
from gateway.web import db

ORDERS = "/api/v1/orders"
ORDER = {"amount": "5", "chain": "devnet", "reference": "a"}

# every orders route: (method, path template, scope it needs)
ROUTES = [
    ("get", ORDERS, "orders:read"),
    ("post", ORDERS, "orders:write"),
    ("get", ORDERS + "/{id}", "orders:read"),
    ("get", ORDERS + "/{id}/payments", "orders:read"),
    ("post", ORDERS + "/{id}/cancel", "orders:write"),
]


def call(client, method, path, headers):
    kwargs = {"json": ORDER} if method == "post" and path == ORDERS else {}
    return getattr(client, method)(path, headers=headers, **kwargs)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nope", "Basic abc", "Bearer gwk_000000000000_wrong"]
)
def test_missing_or_invalid_key_is_401(client, merchant, method, path, scope, header):
    headers = {"Authorization": header} if header else {}
    response = call(client, method, path.format(id="ord_x"), headers)
    assert response.status_code == 401
    assert response.json["code"] in {"missing_api_key", "invalid_api_key"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_tampered_secret_is_401(client, merchant):
    tampered = merchant.key[:-1] + ("A" if merchant.key[-1] != "A" else "B")
    response = client.get(ORDERS, headers={"Authorization": f"Bearer {tampered}"})
    assert response.json["code"] == "invalid_api_key"


def test_revoked_key_is_401(app, client, merchant, runner):
    assert client.get(ORDERS, headers=merchant.headers).status_code == 200
    prefix = merchant.key[: len("gwk_") + 12]
    result = runner.invoke(args=["key", "revoke", prefix])
    assert result.exit_code == 0, result.output
    response = client.get(ORDERS, headers=merchant.headers)
    assert response.status_code == 401
    assert response.json["code"] == "invalid_api_key"


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_key_without_the_scope_is_403(app, client, make_merchant, method, path, scope):
    other_scope = {"orders:read": "webhooks:read", "orders:write": "orders:read"}[scope]
    limited = make_merchant("limited", scopes=other_scope)
    order_id = _an_order(client, make_merchant)
    response = call(client, method, path.format(id=order_id), limited.headers)
    assert response.status_code == 403
    assert response.json["code"] == "insufficient_scope"
    assert scope in response.json["message"]


def test_write_scope_grants_read(client, make_merchant):
    writer = make_merchant("writer", scopes="orders:write")
    assert client.get(ORDERS, headers=writer.headers).status_code == 200


def test_ip_allow_list(client, make_merchant):
    office = make_merchant("office", allowed_ips=("10.0.0.0/8",))
    response = client.get(ORDERS, headers=office.headers)
    assert response.status_code == 403
    assert response.json["code"] == "ip_not_allowed"
    local = make_merchant("local", allowed_ips=("127.0.0.1",))
    assert client.get(ORDERS, headers=local.headers).status_code == 200


def _an_order(client, make_merchant) -> str:
    owner = make_merchant("owner")
    return client.post(ORDERS, json=ORDER, headers=owner.headers).json["id"]


@pytest.mark.parametrize(("method", "path", "scope"), [r for r in ROUTES if "{id}" in r[1]])
def test_another_merchants_order_is_404_on_every_route(
    app, client, merchant, other_merchant, method, path, scope
):
    theirs = client.post(ORDERS, json=ORDER, headers=other_merchant.headers).json
    response = call(client, method, path.format(id=theirs["id"]), merchant.headers)
    assert response.status_code == 404
    assert response.json["code"] == "order_not_found"
    with app.app_context():
        status = db.session().scalar(sa.select(Order.status).where(Order.id == theirs["id"]))
    assert status == "pending"


def test_lists_show_only_the_callers_orders(client, merchant, other_merchant):
    mine = client.post(ORDERS, json=ORDER, headers=merchant.headers).json["id"]
    theirs = client.post(ORDERS, json=ORDER, headers=other_merchant.headers).json["id"]
    listed = [o["id"] for o in client.get(ORDERS, headers=merchant.headers).json["data"]]
    assert listed == [mine]
    cursor = client.get(f"{ORDERS}?starting_after={theirs}", headers=merchant.headers)
    assert cursor.status_code == 422


def test_keys_are_stored_hashed(app, merchant):
    with app.app_context():
        key = db.session().scalar(sa.select(ApiKey))
    secret = merchant.key.split("_", 2)[2]
    assert secret not in (key.secret_hash, key.prefix)
    assert merchant.key.startswith(key.prefix + "_")
