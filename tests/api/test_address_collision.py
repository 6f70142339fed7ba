"""An order's address already held by another order: never a 500, never a stuck merchant.

Distinct keys cannot derive the same address, and one key serves one merchant, so this
takes a forced collision: another merchant's order moved onto the address the victim's
next index derives, as a shared key (before the key identity check) would have made it.
"""

from __future__ import annotations

import sqlalchemy as sa
from bip_utils import Bip44Coins

from gateway.core import addresses
from gateway.core.models import HdAccount, Order
from gateway.web import db
from plugins.hd import child_address
from tests.support.keys import MERCHANT_EVM_XPUB

ORDERS = "/api/v1/orders"
BODY = {"amount": "5", "chain": "devnet", "reference": "cart"}


def victim_address(index: int) -> str:
    return child_address(MERCHANT_EVM_XPUB, index, Bip44Coins.ETHEREUM)


def squat(app, client, thief, index: int) -> str:
    """Give one of ``thief``'s orders the victim's address at ``index``; return its id."""
    order = client.post(ORDERS, json=BODY, headers=thief.headers).json
    with app.app_context(), db.transaction() as session:
        session.execute(
            sa.update(Order).where(Order.id == order["id"]).values(address=victim_address(index))
        )
    return order["id"]


def victim_next_index(app, merchant_id: str) -> int:
    with app.app_context():
        return db.session().scalar(
            sa.select(HdAccount.next_index).where(
                HdAccount.merchant_id == merchant_id, HdAccount.family == "evm"
            )
        )


def test_a_taken_address_is_skipped_and_its_index_consumed(app, client, merchant, other_merchant):
    squat(app, client, other_merchant, 0)
    squat(app, client, other_merchant, 1)

    first = client.post(ORDERS, json=BODY, headers=merchant.headers)
    assert first.status_code == 201, first.json
    assert first.json["address"] == victim_address(2)
    second = client.post(ORDERS, json=BODY, headers=merchant.headers)
    assert second.status_code == 201, second.json
    assert second.json["address"] == victim_address(3)
    assert victim_next_index(app, merchant.id) == 4
    with app.app_context():
        indexes = db.session().scalars(
            sa.select(Order.hd_index).where(Order.merchant_id == merchant.id).order_by(Order.seq)
        )
        assert list(indexes) == [2, 3]


def race(monkeypatch) -> None:
    """Make allocate's check look before another transaction commits the same address."""
    real = addresses.address_taken
    looked = []

    def check(*args) -> bool:
        if not looked:
            looked.append(args)
            return False  # not yet committed when allocate looked
        return real(*args)

    monkeypatch.setattr(addresses, "address_taken", check)


def test_a_collision_at_insert_is_a_409_and_the_next_order_gets_a_fresh_index(
    app, client, merchant, other_merchant, monkeypatch
):
    squatter = squat(app, client, other_merchant, 0)
    race(monkeypatch)

    response = client.post(ORDERS, json=BODY, headers=merchant.headers)
    assert response.status_code == 409, response.json
    assert response.json["code"] == "address_collision"
    text = response.get_data(as_text=True)
    for secret in (squatter, other_merchant.id, victim_address(0)):
        assert secret not in text
    monkeypatch.undo()

    retried = client.post(ORDERS, json=BODY, headers=merchant.headers)
    assert retried.status_code == 201, retried.json
    assert retried.json["address"] == victim_address(1)
    later = client.post(ORDERS, json=BODY, headers=merchant.headers)
    assert later.json["address"] == victim_address(2)
    assert victim_next_index(app, merchant.id) == 3


def test_a_collision_is_not_stored_under_the_idempotency_key(
    app, client, merchant, other_merchant, monkeypatch
):
    """The 409 is transient: retrying with the same key must create the order."""
    squat(app, client, other_merchant, 0)
    race(monkeypatch)
    headers = {**merchant.headers, "Idempotency-Key": "k1"}
    assert client.post(ORDERS, json=BODY, headers=headers).status_code == 409
    monkeypatch.undo()
    retried = client.post(ORDERS, json=BODY, headers=headers)
    assert retried.status_code == 201, retried.json
    assert client.post(ORDERS, json=BODY, headers=headers).json["id"] == retried.json["id"]


def test_any_other_integrity_error_still_surfaces(app, client, merchant, monkeypatch):
    """Only a taken address is a collision; a genuine bug must not hide behind a 409."""
    monkeypatch.setattr("gateway.core.models.new_id", lambda prefix: "ord_same")
    assert client.post(ORDERS, json=BODY, headers=merchant.headers).status_code == 201
    response = client.post(ORDERS, json=BODY, headers=merchant.headers)
    assert response.status_code == 500
    assert response.json["code"] == "internal_error"
