"""Both chains end to end: order created -> transfer on chain -> watcher -> paid ->
signed webhook verified by the shop, with a real worker process and a real receiver."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bip_utils import Bip44Coins
from standardwebhooks import Webhook

from gateway.core.watcher import Watcher
from gateway.web.chains import drivers
from tests.conftest import both_chains
from tests.fixtures.tron import PAYER
from tests.support.keys import account_xpub
from tests.webhooks.support import wait_until

USDT = 10**6


@pytest.fixture
def chain_settings(devnet, tron_node) -> dict[str, Any]:
    """Both chains, as in production (the webhook tests' own default is none)."""
    return both_chains(devnet, tron_node)


@pytest.fixture
def merchant(make_merchant):
    """A shop with xpubs for both chain families."""
    return make_merchant(
        "shop",
        xpubs={
            "devnet": account_xpub(Bip44Coins.ETHEREUM, account=11),
            "tron": account_xpub(Bip44Coins.TRON, account=11),
        },
    )


def _endpoint(client, merchant, receiver) -> str:
    created = client.post(
        "/api/v1/webhook-endpoints",
        headers=merchant.headers,
        json={"url": receiver.url(), "event_types": ["payment.received", "order.paid"]},
    )
    assert created.status_code == 201, created.json
    return created.json["secret"]


def _order(client, merchant, chain: str, amount: str) -> dict:
    created = client.post(
        "/api/v1/orders",
        headers=merchant.headers,
        json={"amount": amount, "chain": chain, "reference": f"e2e-{chain}"},
    )
    assert created.status_code == 201, created.json
    return created.json


def _sync(app, chain: str) -> None:
    with app.app_context():
        driver = drivers()[chain]
    watcher = Watcher(
        chain, driver, app.extensions["db.sessionmaker"], grace=timedelta(hours=1), owner="e2e"
    )
    wait_until(lambda: watcher.step().caught_up, timeout=30, what=f"{chain} watcher")


def _verified(receiver, secret: str, order_id: str) -> list[dict]:
    """Every webhook about ``order_id`` so far, each verified with the shop's secret."""
    messages = []
    for request in receiver.to():
        message = Webhook(secret).verify(request.body, request.headers)
        data = message["data"]
        if order_id in (data.get("id"), data.get("order_id")):
            messages.append({**message, "webhook_id": request.headers["webhook-id"]})
    return messages


def test_tron_order_paid_end_to_end_with_a_verified_webhook(
    app, client, merchant, receiver, start_worker, tron_node
):
    secret = _endpoint(client, merchant, receiver)
    start_worker()
    order = _order(client, merchant, "tron", "42.5")
    tron_node.produce_block()
    _sync(app, "tron")

    tron_node.transfer(PAYER, order["address"], 42_500_000)
    tron_node.produce_block()
    _sync(app, "tron")
    tron_node.produce_block(3)  # past solidification
    _sync(app, "tron")

    def paid_message():
        return [m for m in _verified(receiver, secret, order["id"]) if m["type"] == "order.paid"]

    [paid] = wait_until(paid_message, timeout=30, what="the order.paid webhook")
    assert paid["data"]["status"] == "paid"
    assert (paid["data"]["chain"], paid["data"]["amount_confirmed"]) == ("tron", "42.5")
    received = [
        m for m in _verified(receiver, secret, order["id"]) if m["type"] == "payment.received"
    ]
    assert received[0]["data"]["amount"] == "42.5"
    assert received[0]["data"]["from_address"] == PAYER
    assert paid["webhook_id"].startswith("evt_")  # receivers dedupe on it


def test_evm_order_paid_end_to_end_with_a_verified_webhook(
    app, client, merchant, receiver, start_worker, devnet, evm_snapshot
):
    secret = _endpoint(client, merchant, receiver)
    start_worker()
    devnet.mint(devnet.usdt, devnet.accounts[0].address, 100 * USDT)
    order = _order(client, merchant, "devnet", "9.99")
    devnet.transfer(devnet.usdt, 0, order["address"], 9_990_000)
    devnet.mine(2)
    _sync(app, "devnet")

    def paid_message():
        return [m for m in _verified(receiver, secret, order["id"]) if m["type"] == "order.paid"]

    [paid] = wait_until(paid_message, timeout=30, what="the order.paid webhook")
    assert (paid["data"]["status"], paid["data"]["amount_confirmed"]) == ("paid", "9.99")
