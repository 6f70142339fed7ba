"""The checkout page in a real headless Chromium: it shows the order and follows it live."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("CHECKOUT_SCREENSHOTS", "/tmp"))
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

if not shutil.which(CHROMIUM):
    if os.environ.get("CI"):  # CI installs it: a missing browser there is a failure
        pytest.fail(f"no Chromium at {CHROMIUM}", pytrace=False)
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[sync_api.Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == []  # a CSP violation or a script error shows up here


def test_page_shows_the_order_and_turns_paid_without_reload(server, buyer, page, request):
    expect = sync_api.expect
    order = buyer.order("12.5")
    page.goto(f"{server}/pay/{order['id']}")

    expect(page.locator("#pay-amount")).to_have_text("12.5")
    expect(page.locator("#pay-address")).to_have_text(order["address"])
    expect(page.locator("#pay-address")).to_be_visible()
    expect(page.locator(".qr-box svg")).to_be_visible()
    expect(page.get_by_role("link", name="Open in wallet")).to_have_attribute(
        "href", order["payment_uri"]
    )
    expect(page.get_by_role("button", name="Copy").first).to_be_visible()
    expect(page.locator('[data-field="countdown"]')).to_have_text(re.compile(r"^59:[0-5]\d$"))
    shot = request.node.name.split("[")[-1].rstrip("]")
    page.screenshot(path=str(SHOTS / f"checkout-pending-{shot}.png"), full_page=True)

    page.evaluate("window.__same_document = true")  # gone if the page reloads
    buyer.receive(order["id"], 12_500_000, confirmed=True)

    expect(page.locator("h1")).to_have_text("Paid", timeout=15_000)
    expect(page.locator('[data-field="amount_received"]')).to_have_text("12.5")
    expect(page.locator("section.pay")).to_be_hidden()
    assert page.evaluate("window.__same_document") is True
    page.screenshot(path=str(SHOTS / f"checkout-paid-{shot}.png"), full_page=True)


def test_partial_payment_is_shown_live(server, buyer, page):
    expect = sync_api.expect
    order = buyer.order("10", chain="tron")
    page.goto(f"{server}/pay/{order['id']}")
    expect(page.locator("#pay-address")).to_have_text(order["address"])

    buyer.receive(order["id"], 4_000_000)
    expect(page.locator("h1")).to_have_text("Partly paid", timeout=15_000)
    expect(page.locator("#pay-amount")).to_have_text("6")
    expect(page.locator('[data-field="amount_remaining"]')).to_have_text("6")
    expect(page.locator("[data-partial]")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SHOTS / "checkout-partial-desktop.png"), full_page=True)
