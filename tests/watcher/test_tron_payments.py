"""TRON orders end to end against the local TRON node: API -> transfer -> watcher -> paid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bip_utils import Bip44Coins

from gateway.core.watcher import Watcher
from gateway.web.chains import drivers
from plugins.base import DriverError
from plugins.hd import child_address
from tests.fixtures.tron import PAYER
from tests.support.keys import MERCHANT_TRON_XPUB

USDT = 10**6


@pytest.fixture
def tron(app, client, merchant, tron_node):
    """Create TRON orders, pay them on the local node, and step a TRON watcher."""

    class Tron:
        node = tron_node

        def order(self, amount: str) -> dict:
            body = {"amount": amount, "chain": "tron", "reference": "t"}
            response = client.post("/api/v1/orders", json=body, headers=merchant.headers)
            assert response.status_code == 201, response.json
            return response.json

        def get(self, order_id: str) -> dict:
            return client.get(f"/api/v1/orders/{order_id}", headers=merchant.headers).json

        def sync(self) -> None:
            with app.app_context():
                driver = drivers()["tron"]
            driver.backoff_base = 0.01
            watcher = Watcher(
                "tron",
                driver,
                app.extensions["db.sessionmaker"],
                grace=timedelta(hours=1),
                owner="test",
            )
            for _ in range(50):
                if watcher.step().caught_up:
                    return
            raise AssertionError("the TRON watcher did not catch up")

    return Tron()


def test_tron_order_gets_a_base58_address_and_uri(tron):
    order = tron.order("7.5")
    assert order["address"] == child_address(MERCHANT_TRON_XPUB, 0, Bip44Coins.TRON)
    assert order["address"].startswith("T")
    assert order["amount_base_units"] == "7500000"
    assert order["token"] == tron.node.chain.token
    assert order["payment_uri"].startswith(f"tron:{order['address']}?")


def test_tron_order_is_paid_once_its_block_is_solidified(tron):
    order = tron.order("7.5")
    tron.node.produce_block()
    tron.sync()
    tron.node.transfer(PAYER, order["address"], 7_500_000)
    tron.node.transfer(PAYER, order["address"], 1, fail=True)  # reverted: never counted
    tron.node.produce_block()
    tron.sync()
    assert tron.get(order["id"])["status"] == "confirming"

    tron.node.produce_block(3)  # solidification trails the head by three blocks
    tron.sync()
    paid = tron.get(order["id"])
    assert (paid["status"], paid["amount_confirmed"]) == ("paid", "7.5")


def test_tron_block_orphaned_before_solidification_reverts_the_payment(tron):
    order = tron.order("2")
    tron.node.produce_block()
    tron.sync()
    tron.node.transfer(PAYER, order["address"], 2 * USDT)
    height = tron.node.produce_block()
    tron.sync()
    assert tron.get(order["id"])["status"] == "confirming"

    tron.node.orphan(height)  # the block and its transaction are gone
    tron.node.produce_block(2)
    tron.sync()
    back = tron.get(order["id"])
    assert (back["status"], back["amount_received"]) == ("pending", "0")


def sync_through_errors(tron, attempts: int = 5) -> None:
    """Sync, stepping again after node errors as the watcher's loop does."""
    for _ in range(attempts):
        try:
            tron.sync()
            return
        except DriverError:
            continue
    raise AssertionError("the TRON watcher kept failing")


def test_tron_receipts_from_a_lagging_backend_are_not_taken_as_empty(tron):
    order = tron.order("2")
    tron.node.produce_block()
    tron.sync()
    tron.node.transfer(PAYER, order["address"], 2 * USDT)
    tron.node.produce_block()
    # one receipts request reaches a backend that lacks the newest block: it answers []
    tron.node.lag(behind=1, path="/wallet/gettransactioninfobyblocknum")
    sync_through_errors(tron)
    tron.node.produce_block(3)
    tron.sync()
    paid = tron.get(order["id"])
    assert (paid["status"], paid["amount_confirmed"]) == ("paid", "2")


def test_tron_orphaning_noticed_late_rescans_from_the_fork_point(tron):
    order = tron.order("2")
    tron.node.produce_block()
    tron.sync()
    first = tron.node.produce_block(2) - 1  # two blocks without the payment, scanned
    tron.sync()
    tron.node.orphan(first)  # both replaced while the watcher is away ...
    tron.node.transfer(PAYER, order["address"], 2 * USDT)
    # ... the first new one pays, and the fork grows until that block is solidified
    tron.node.produce_block(4)
    tron.sync()
    tron.node.produce_block(3)
    tron.sync()
    paid = tron.get(order["id"])
    assert (paid["status"], paid["amount_confirmed"]) == ("paid", "2")
