"""In Chromium the checkout page follows its order's event stream, and polls when refused."""

from __future__ import annotations

import pytest

from tests.checkout.test_browser import browser, page, sync_api  # noqa: F401  (fixtures)
from tests.events.sse import SseReader


@pytest.fixture
def app_config(app_config):
    """One stream per order, so that a test can take it before the page does."""
    app_config["events"] = {"streams_per_order": 1}
    return app_config


def watch_requests(page) -> list[str]:  # noqa: F811
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def test_the_page_turns_paid_from_its_stream_without_polling(server, buyer, page):  # noqa: F811
    order = buyer.order("12.5")
    seen = watch_requests(page)
    page.goto(f"{server}/pay/{order['id']}")
    sync_api.expect(page.locator("h1")).to_have_text("Waiting for payment")
    page.wait_for_function("() => performance.getEntriesByType('resource').length > 1")
    buyer.receive(order["id"], 12_500_000, confirmed=True)
    sync_api.expect(page.locator("h1")).to_have_text("Paid", timeout=3_000)  # < a poll period
    assert any(url.endswith(f"/pay/{order['id']}/events") for url in seen)
    assert not any("status.json" in url for url in seen)


@pytest.fixture
def refused_page(browser):  # noqa: F811
    """A page on which the one expected console error is the refused stream's 503."""
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    assert [e for e in errors if "status of 503" not in e] == []


def test_a_refused_stream_falls_back_to_polling(server, buyer, refused_page):
    order = buyer.order("12.5")
    taken = SseReader(f"{server}/pay/{order['id']}/events", {})  # the order's one stream
    assert taken.status == 200
    seen = watch_requests(refused_page)
    refused_page.goto(f"{server}/pay/{order['id']}")
    # pay only once the page polls: paying ends the taken stream, and a page that had not
    # tried its own yet would then get it and never need to poll
    refused_page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => e.name.includes('status.json'))",
        timeout=15_000,
    )
    assert any(url.endswith(f"/pay/{order['id']}/events") for url in seen)  # refused first
    buyer.receive(order["id"], 12_500_000, confirmed=True)
    sync_api.expect(refused_page.locator("h1")).to_have_text("Paid", timeout=15_000)
    taken.close()
