"""The owner's day in a real browser: sign in, turn on TOTP and sign in with it, create an
API key (shown once), register a webhook endpoint, find a paid order and redeliver its
webhook; a real `gateway worker` sends it and the new attempt appears."""

from __future__ import annotations

import re
import time
import uuid

import pyotp
import pytest

from tests.dashboard.browser import expect, sign_in
from tests.webhooks.conftest import REDIS_URL
from tests.webhooks.support import Receiver


@pytest.fixture
def app_config(app_config):
    """Redis, a private queue and a quick retry schedule for the worker."""
    app_config["redis"] = {"url": REDIS_URL}
    app_config["webhooks"] = {
        "allow_private_targets": True,
        "queue": f"test-dashboard-{uuid.uuid4().hex[:10]}",
        "retry_schedule": "0.2 0.2 0.2",
        "timeout": 2.0,
        "dispatch_interval": 0.1,
    }
    return app_config


@pytest.fixture
def receiver():
    """The shop's webhook receiver."""
    server = Receiver()
    yield server
    server.close()


def test_owner_enrols_totp_creates_a_key_and_redelivers_a_webhook(
    server,
    open_page,
    owner,
    buyer,
    receiver,
    start_worker,
):
    page = open_page()
    sign_in(page, server, owner.email, owner.password)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # two-factor authentication: scan (here: read) the secret, confirm with a code
    page.get_by_role("link", name=owner.email).click()
    expect(page.locator(".qr-box svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("The 6-digit code your app shows").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("ol.codes li")).to_have_count(10)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    sign_in(page, server, owner.email, owner.password)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    # the code that enrolled is spent: the next step's code (accepted for clock drift)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # an API key, shown once
    page.get_by_role("link", name="API keys").click()
    page.get_by_text("Create a key").click()
    page.get_by_label("Name").fill("shop backend")
    page.get_by_label("orders:write").check()
    page.get_by_label("Your password or a 2FA code").fill(owner.password)
    page.get_by_role("button", name="Create the key").click()
    key = page.locator("#key-value").inner_text()
    assert re.fullmatch(r"gwk_[0-9a-f]{12}_\S+", key)
    expect(page.locator("#new-key").get_by_role("button", name="Copy")).to_be_visible()
    page.goto(f"{server}/dashboard/keys")  # seen again later: the key is not there
    expect(page.locator("#new-key")).to_have_count(0)
    expect(page.get_by_text(key)).to_have_count(0)
    expect(page.locator("tr[data-key]").filter(has_text="shop backend")).to_be_visible()

    # a webhook endpoint, its secret shown once
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_text("Add an endpoint").click()
    page.get_by_label("URL").fill(receiver.url())
    page.get_by_label("order.paid").check()
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#secret-value")).to_have_text(re.compile(r"^whsec_"))

    # the shop's buyer pays an order; the worker delivers order.paid
    start_worker()
    order = buyer.order("25", reference="cart-7781")
    buyer.receive(order["id"], 25_000_000, confirmed=True)
    page.get_by_role("link", name="Orders").click()
    page.get_by_label("Reference, order id or address").fill("7781")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=order["id"]).click()
    expect(page.get_by_role("heading", name=re.compile("Order"))).to_contain_text("paid")
    row = page.locator("#deliveries tr[data-delivery]")
    for _ in range(100):  # the worker's first attempt
        if row.count() and row.first.locator('[data-field="attempts"]').inner_text() == "1":
            break
        time.sleep(0.2)
        page.reload()
    expect(row.first.locator('[data-field="attempts"]')).to_have_text("1")
    assert len(receiver.to("/hook")) == 1

    row.first.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_text("Sent again")).to_be_visible()
    for _ in range(100):
        if row.first.locator('[data-field="attempts"]').inner_text() == "2":
            break
        time.sleep(0.2)
        page.reload()
    expect(row.first.locator('[data-field="attempts"]')).to_have_text("2")
    assert len(receiver.to("/hook")) == 2
    row.first.get_by_role("link", name="order.paid").click()
    expect(page.locator("tr.attempt")).to_have_count(2)
    expect(page.locator("tr.attempt").first).to_contain_text("200")
