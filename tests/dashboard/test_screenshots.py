"""Desktop and phone screenshots of the checkout (pending, paid), the overview, an order and
its deliveries, from a month of made-up history. To refresh the committed ones:
`DASHBOARD_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/dashboard/test_screenshots.py`."""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.core.models import Order, utcnow
from gateway.core.wallet import ledger
from gateway.core.wallet.models import Account
from gateway.web import db
from tests.dashboard.browser import DESKTOP, PHONE, expect, shoot, sign_in
from tests.webhooks.conftest import REDIS_URL
from tests.webhooks.support import Receiver, wait_until
from webhooks import endpoints

SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def app_config(app_config):
    """Redis and a private queue for the worker that sends the webhooks shown."""
    app_config["redis"] = {"url": REDIS_URL}
    app_config["webhooks"] = {
        "allow_private_targets": True,
        "queue": f"test-shots-{uuid.uuid4().hex[:10]}",
        "dispatch_interval": 0.1,
        "timeout": 2.0,
    }
    return app_config


def history(app, buyer, days: int = 30) -> None:
    """Orders paid over the last ``days`` days, booked in the ledger as the watcher does."""
    rng = random.Random(11)
    for n in range(24):
        chain = "tron" if n % 3 == 0 else "devnet"
        amount = rng.choice((19, 25, 49.9, 120, 310, 75.5))
        order = buyer.order(str(amount), chain=chain, reference=f"cart-{1000 + n}")
        buyer.receive(order["id"], int(amount * 1_000_000), confirmed=True)
        back = timedelta(days=rng.randrange(days), hours=rng.randrange(12))
        with app.app_context(), db.transaction() as session:
            found = session.scalar(sa.select(Order).where(Order.id == order["id"]))
            found.created_at = found.paid_at = utcnow() - back
            for payment in found.payments:
                payment.created_at = found.created_at - timedelta(minutes=rng.randrange(1, 40))
                payment.confirmed_at = found.created_at
                ledger.move(
                    session, found.merchant_id, chain, "payment", payment.amount,
                    Account.WORLD, Account.RECEIVED, payment_id=payment.id, order_id=found.id,
                )  # fmt: skip


def test_screenshots(
    request, app, server, open_page, owner, merchant, buyer, start_worker, database_url
):
    if "postgresql" in database_url:
        pytest.skip("one set of screenshots is enough (taken on SQLite)")
    receiver = Receiver()
    request.addfinalizer(receiver.close)
    with app.app_context(), db.transaction() as session:
        endpoints.create(session, merchant.id, {"url": receiver.url(), "event_types": ["*"]}, True)
    start_worker()
    history(app, buyer)
    pending = buyer.order("49.9", reference="cart-2001")
    paid = buyer.order("120", reference="cart-2002")
    buyer.receive(paid["id"], 120_000_000, confirmed=True)
    buyer.order("25", chain="tron", reference="cart-2003")
    wait_until(lambda: len(receiver.to("/hook")) >= 60, timeout=60, what="the webhooks")

    for size, viewport in SIZES.items():
        page = open_page(viewport=viewport, device_scale_factor=1)
        page.goto(f"{server}/pay/{pending['id']}")
        expect(page.locator("#pay-address")).to_be_visible()
        shoot(page, f"checkout-pending-{size}")
        page.goto(f"{server}/pay/{paid['id']}")
        expect(page.locator("h1")).to_have_text("Paid")
        shoot(page, f"checkout-paid-{size}")

        sign_in(page, server, owner.email, owner.password)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        for _ in range(50):  # the tips come from the nodes in the background
            if page.locator("td.num .muted").count() == 0:
                break
            time.sleep(0.2)
            page.reload()
        shoot(page, f"overview-{size}")
        page.goto(f"{server}/dashboard/orders/{paid['id']}")
        expect(page.locator("#deliveries tr[data-delivery]").first).to_be_visible()
        shoot(page, f"order-{size}")
        page.locator("#deliveries").get_by_role("link", name="order.paid").click()
        expect(page.locator("tr.attempt").first).to_contain_text("200")
        shoot(page, f"deliveries-{size}")

    chinese = open_page(viewport=DESKTOP, device_scale_factor=1, locale="zh-CN")
    chinese.goto(f"{server}/dashboard/login")
    chinese.get_by_label("邮箱").fill(owner.email)
    chinese.get_by_label("密码").fill(owner.password)
    chinese.get_by_role("button", name="登录").click()
    expect(chinese.get_by_role("heading", name="概览")).to_be_visible()
    shoot(chinese, "overview-zh-desktop")
