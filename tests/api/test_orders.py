"""The orders API: creation, reading, listing, cancelling, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from bip_utils import Bip44Coins

from gateway.core.models import Event, HdAccount, Order
from gateway.web import db
from plugins.hd import child_address
from tests.support.keys import MERCHANT_EVM_XPUB

ORDERS = "/api/v1/orders"


def new_order(**fields):
    body = {"amount": "12.50", "chain": "devnet", "reference": "cart-1"}
    body.update(fields)
    return body


def count(app, model) -> int:
    with app.app_context():
        return db.session().scalar(sa.select(sa.func.count()).select_from(model))


def next_index(app) -> int:
    with app.app_context():
        return db.session().scalar(sa.select(HdAccount.next_index).where(HdAccount.family == "evm"))


def test_create_answers_address_amount_and_uri(client, merchant, devnet):
    response = client.post(
        ORDERS, json=new_order(metadata={"cart": [1, 2]}), headers=merchant.headers
    )
    assert response.status_code == 201, response.json
    order = response.json
    expected = child_address(MERCHANT_EVM_XPUB, 0, Bip44Coins.ETHEREUM)
    assert order["id"].startswith("ord_")
    assert order["status"] == "pending"
    assert order["address"] == expected
    assert order["amount"] == "12.5"
    assert order["amount_base_units"] == "12500000"
    assert order["decimals"] == 6
    assert order["token"] == devnet.usdt
    assert order["payment_uri"] == (
        f"ethereum:{devnet.usdt}@31337/transfer?address={expected}&uint256=12500000"
    )
    assert order["checkout_url"] == f"http://127.0.0.1:5000/pay/{order['id']}"
    assert order["metadata"] == {"cart": [1, 2]}
    assert order["amount_received"] == "0"
    assert order["expires_at"] > order["created_at"]


def test_each_order_gets_the_next_address(client, merchant):
    addresses = [
        client.post(ORDERS, json=new_order(reference=f"r{i}"), headers=merchant.headers).json[
            "address"
        ]
        for i in range(3)
    ]
    assert addresses == [child_address(MERCHANT_EVM_XPUB, i, Bip44Coins.ETHEREUM) for i in range(3)]


def test_create_writes_the_created_event(app, client, merchant):
    order = client.post(ORDERS, json=new_order(), headers=merchant.headers).json
    with app.app_context():
        events = db.session().scalars(sa.select(Event)).all()
    assert [(e.type, e.merchant_id, e.data["id"]) for e in events] == [
        ("order.created", merchant.id, order["id"])
    ]
    assert events[0].data["amount"] == "12.5"


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "greater than zero"),
        ("0.000000", "greater than zero"),
        ("-1", "decimal string"),
        ("1.0000001", "more than 6 decimal places"),
        ("abc", "decimal string"),
        ("1e3", "decimal string"),
        ("", "decimal string"),
        (" 1", "decimal string"),
        ("1000000000.000001", "maximum"),
        ("99999999999999999999999999999999", "maximum"),
        (12.5, "Not a valid string"),
        (None, "Field may not be null"),
        (["1"], "Not a valid string"),
    ],
)
def test_bad_amounts_are_422_naming_the_field_and_write_nothing(
    app, client, merchant, amount, reason
):
    response = client.post(ORDERS, json=new_order(amount=amount), headers=merchant.headers)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert reason in " ".join(response.json["errors"]["amount"])
    assert count(app, Order) == 0
    assert next_index(app) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (new_order(colour="red"), "colour"),
        (new_order(reference=""), "reference"),
        (new_order(reference=123), "reference"),
        (new_order(reference="x" * 201), "reference"),
        ({"amount": "1", "chain": "devnet"}, "reference"),
        (new_order(chain="dogecoin"), "chain"),
        (new_order(metadata="nope"), "metadata"),
        (new_order(metadata={"k": "v" * 5000}), "metadata"),
        (new_order(expires_in=10), "expires_in"),
        (new_order(expires_in=10**9), "expires_in"),
        (new_order(expires_in="soon"), "expires_in"),
    ],
)
def test_bad_fields_are_422_naming_the_field(app, client, merchant, body, field):
    response = client.post(ORDERS, json=body, headers=merchant.headers)
    assert response.status_code == 422, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert field in response.json["errors"]
    assert count(app, Order) == 0


def test_malformed_json_is_400(client, merchant):
    response = client.post(
        ORDERS, data="{not json", headers=merchant.headers, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["code"] == "invalid_json"


def test_json_that_is_not_an_object_is_422(client, merchant):
    response = client.post(ORDERS, json=["amount", "1"], headers=merchant.headers)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"


def test_oversized_body_is_413(app, client, merchant):
    body = json.dumps(new_order(metadata={"pad": "x" * 70_000}))
    response = client.post(
        ORDERS, data=body, headers=merchant.headers, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert count(app, Order) == 0


def test_a_chain_without_xpub_is_409(client, make_merchant):
    bare = make_merchant("bare", xpubs={})
    response = client.post(ORDERS, json=new_order(), headers=bare.headers)
    assert response.status_code == 409
    assert response.json["code"] == "xpub_missing"


def test_get_and_unknown_ids(client, merchant):
    created = client.post(ORDERS, json=new_order(), headers=merchant.headers).json
    fetched = client.get(f"{ORDERS}/{created['id']}", headers=merchant.headers)
    assert fetched.status_code == 200
    assert fetched.json == created
    missing = client.get(f"{ORDERS}/ord_doesnotexist", headers=merchant.headers)
    assert missing.status_code == 404
    assert missing.json["code"] == "order_not_found"
    assert client.get("/api/v1/nothing", headers=merchant.headers).json["code"] == "not_found"


def test_list_filters_and_pages_newest_first(client, merchant):
    ids = [
        client.post(ORDERS, json=new_order(reference=f"r{i}"), headers=merchant.headers).json["id"]
        for i in range(5)
    ]
    client.post(f"{ORDERS}/{ids[0]}/cancel", headers=merchant.headers)

    first = client.get(f"{ORDERS}?limit=2", headers=merchant.headers).json
    assert [o["id"] for o in first["data"]] == [ids[4], ids[3]]
    assert first["has_more"] is True
    second = client.get(f"{ORDERS}?limit=2&starting_after={ids[3]}", headers=merchant.headers).json
    assert [o["id"] for o in second["data"]] == [ids[2], ids[1]]
    last = client.get(f"{ORDERS}?limit=2&starting_after={ids[1]}", headers=merchant.headers).json
    assert [o["id"] for o in last["data"]] == [ids[0]]
    assert last["has_more"] is False

    def listed(query):
        return [
            o["id"] for o in client.get(f"{ORDERS}?{query}", headers=merchant.headers).json["data"]
        ]

    assert listed("status=cancelled") == [ids[0]]
    assert listed("reference=r2") == [ids[2]]
    assert listed("chain=devnet&status=pending") == ids[:0:-1]
    created = client.get(f"{ORDERS}/{ids[2]}", headers=merchant.headers).json["created_at"]
    assert set(listed(f"created_gte={created}")) >= {ids[2], ids[3], ids[4]}
    assert listed("created_lt=2000-01-01T00:00:00Z") == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=x",
        "status=nope",
        "starting_after=ord_unknown",
        "created_lt=yesterday",
        "created_lt=2020-01-01T00:00:00",
        "bogus=1",
    ],
)
def test_bad_list_queries_are_422(client, merchant, query):
    response = client.get(f"{ORDERS}?{query}", headers=merchant.headers)
    assert response.status_code == 422, response.json


def test_cancel_pending_order_writes_event_and_is_idempotent(app, client, merchant):
    order = client.post(ORDERS, json=new_order(), headers=merchant.headers).json
    cancelled = client.post(f"{ORDERS}/{order['id']}/cancel", headers=merchant.headers)
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["cancelled_at"]
    again = client.post(f"{ORDERS}/{order['id']}/cancel", headers=merchant.headers)
    assert again.status_code == 200
    with app.app_context():
        types = db.session().scalars(sa.select(Event.type).order_by(Event.seq)).all()
    assert types == ["order.created", "order.cancelled"]


def test_an_order_with_money_cannot_be_cancelled(app, client, merchant):
    order = client.post(ORDERS, json=new_order(), headers=merchant.headers).json
    with app.app_context(), db.transaction() as session:
        session.execute(sa.update(Order).values(amount_seen=1, status="pending"))
    response = client.post(f"{ORDERS}/{order['id']}/cancel", headers=merchant.headers)
    assert response.status_code == 409
    assert response.json["code"] == "order_not_cancellable"


def test_idempotency_key_replays_the_first_answer(app, client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "checkout-42"}
    first = client.post(ORDERS, json=new_order(), headers=headers)
    second = client.post(ORDERS, json=new_order(), headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json == second.json
    assert count(app, Order) == 1
    assert next_index(app) == 1


def test_idempotency_key_with_another_body_is_refused(app, client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "checkout-43"}
    client.post(ORDERS, json=new_order(), headers=headers)
    other = client.post(ORDERS, json=new_order(amount="13"), headers=headers)
    assert other.status_code == 422
    assert other.json["code"] == "idempotency_key_reused"
    assert count(app, Order) == 1


def test_idempotency_keys_belong_to_one_merchant(client, merchant, other_merchant):
    mine = client.post(
        ORDERS, json=new_order(), headers={**merchant.headers, "Idempotency-Key": "k"}
    ).json
    theirs = client.post(
        ORDERS, json=new_order(), headers={**other_merchant.headers, "Idempotency-Key": "k"}
    ).json
    assert mine["id"] != theirs["id"]


def test_failed_requests_are_not_remembered_by_idempotency(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "retry-me"}
    assert client.post(ORDERS, json=new_order(amount="-1"), headers=headers).status_code == 422
    assert client.post(ORDERS, json=new_order(), headers=headers).status_code == 201
