"""The example shop pays an order end to end on the devnet: cart, 'Pay with USDT', the
hosted checkout, a real transfer, the watcher, the worker's signed webhook, thank you."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from bip_utils import Bip44Coins
from gateway_client import Gateway
from werkzeug.serving import make_server

from examples.shop.app import create_app as create_shop
from gateway.core.watcher import Watcher
from gateway.web.chains import drivers
from tests.support.keys import account_xpub
from tests.webhooks.support import wait_until


@pytest.fixture
def chain_settings(devnet):
    """The anvil devnet, one confirmation."""
    return {
        "devnet": {
            "driver": "evm",
            "rpc_url": devnet.rpc_url,
            "chain_id": 31337,
            "token": devnet.usdt,
            "confirmations": 1,
        }
    }


@pytest.fixture
def database_url(tmp_path, sqlite_template_path) -> str:
    """SQLite: the shop, not the gateway's database, is under test."""
    from tests.support.databases import sqlite_copy

    return sqlite_copy(sqlite_template_path, tmp_path)


@pytest.fixture
def merchant(make_merchant):
    """The shop's merchant, with a devnet xpub."""
    return make_merchant("shop", xpubs={"devnet": account_xpub(Bip44Coins.ETHEREUM, account=7)})


@pytest.fixture
def shop(tmp_path, server, merchant):
    """The example shop on a real server, its webhook endpoint registered at the gateway."""
    gateway = Gateway(server, merchant.key)
    httpd = make_server("127.0.0.1", 0, None, threaded=True)  # a port first: the URL is needed
    url = f"http://127.0.0.1:{httpd.server_port}"
    endpoint = gateway.webhook_endpoints.create(f"{url}/webhooks/usdt", ["order.paid"])
    app = create_shop(
        {
            "SHOP_DATABASE": str(tmp_path / "shop.db"),
            "GATEWAY_URL": server,
            "GATEWAY_API_KEY": merchant.key,
            "GATEWAY_WEBHOOK_SECRET": endpoint["secret"],
            "GATEWAY_CHAIN": "devnet",
        }
    )
    httpd.app = app
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield url, app, gateway
    httpd.shutdown()


def test_the_shop_is_paid_in_usdt_end_to_end(app, shop, devnet, evm_snapshot, start_worker):
    url, shop_app, gateway = shop
    buyer = requests.Session()
    for product in ("mug", "mug", "shirt"):
        assert buyer.post(f"{url}/cart", data={"product": product}).status_code == 200
    assert "50.00" in buyer.get(url).text

    sent = buyer.post(f"{url}/checkout", allow_redirects=False)
    assert sent.status_code == 303
    checkout_url = sent.headers["Location"]
    order_id = checkout_url.rsplit("/", 1)[1]
    assert checkout_url.endswith(f"/pay/{order_id}")
    # the test's gateway serves on a free port, not at its configured base_url
    page = buyer.get(f"{gateway.transport.base_url}/pay/{order_id}")
    assert page.status_code == 200 and "50" in page.text
    order = gateway.orders.get(order_id)
    assert (order["amount"], order["reference"], order["metadata"]) == (
        "50", "shop-1", {"shop_order": "1"},
    )  # fmt: skip
    assert "Waiting for your payment" in buyer.get(f"{url}/return").text

    start_worker()
    units = int(Decimal(order["amount"]) * 10**6)
    devnet.mint(devnet.usdt, devnet.accounts[0].address, units)  # the buyer's wallet
    devnet.transfer(devnet.usdt, 0, order["address"], units)
    with app.app_context():
        driver = drivers()["devnet"]
    watcher = Watcher(
        "devnet", driver, app.extensions["db.sessionmaker"], grace=timedelta(hours=1), owner="t"
    )

    def paid() -> bool:
        devnet.mine(1)
        watcher.step()
        return gateway.orders.get(order_id)["status"] == "paid"

    wait_until(paid, 60, "the gateway to see the order paid")
    thanks = wait_until(
        lambda: "Thank you" in (text := buyer.get(f"{url}/orders/1").text) and text,
        30, "the shop's webhook",
    )  # fmt: skip
    assert "50.00 USDT received" in thanks

    # the same webhook again (a redelivery): taken as a duplicate, the order paid once
    store = shop_app.extensions["store"]
    paid_at = store.order(1)["paid_at"]
    delivery = gateway.webhook_deliveries.list(status="succeeded").data[0]
    gateway.webhook_deliveries.redeliver(delivery["id"])
    wait_until(
        lambda: gateway.webhook_deliveries.get(delivery["id"])["attempt_count"] == 1
        and gateway.webhook_deliveries.get(delivery["id"])["status"] == "succeeded",
        30, "the redelivery",
    )  # fmt: skip
    assert store.order(1)["paid_at"] == paid_at
    # a forged webhook is refused
    forged = requests.post(
        f"{url}/webhooks/usdt",
        json={"type": "order.paid", "data": {"id": order_id}},
        headers={"webhook-id": "evt_x", "webhook-timestamp": "1", "webhook-signature": "v1,x"},
    )
    assert forged.status_code == 400
