"""The hosted checkout page and its status feed, through the Flask test client."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import segno
import sqlalchemy as sa

from gateway.core.models import Event
from gateway.web import db

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def page_text(client, order_id: str) -> str:
    response = client.get(f"/pay/{order_id}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return unescape(response.get_data(as_text=True))


def qr_path(text: str) -> str:
    """The path segno draws for ``text``: the page's QR code must be exactly this one."""
    svg = segno.make(text, error="m").svg_inline(scale=1, border=4)
    return re.search(r' d="([^"]+)"', svg).group(1)


def test_page_shows_amount_network_address_uri_and_qr(client, buyer):
    order = buyer.order("12.5")
    html = page_text(client, order["id"])
    assert re.search(r'id="pay-amount">12\.5</span>', html)
    assert "USDT" in html
    assert "Devnet (ERC-20)" in html
    assert f">{order['address']}</p>" in html
    assert f'href="{order["payment_uri"]}"' in html
    assert "Open in wallet" in html
    assert '<svg viewBox="0 0 ' in html and 'class="qr"' in html
    assert qr_path(order["payment_uri"]) in html
    assert "Waiting for payment" in html
    assert 'data-field="countdown"' in html


def test_tron_order_has_its_own_page(client, buyer):
    order = buyer.order("7", chain="tron")
    html = page_text(client, order["id"])
    assert order["address"].startswith("T")
    assert f">{order['address']}</p>" in html
    assert "TRON (TRC-20)" in html
    assert qr_path(order["payment_uri"]) in html
    assert buyer.status(order["id"])["amount_remaining"] == "7"


def test_status_follows_the_order_through_its_states(client, buyer):
    order = buyer.order("12.5")
    assert buyer.status(order["id"]) == {
        "status": "pending",
        "amount": "12.5",
        "amount_received": "0",
        "amount_remaining": "12.5",
        "expires_at": order["expires_at"],
        "expires_in": buyer.status(order["id"])["expires_in"],
        "flags": [],
        "headline": "Waiting for payment",
        "detail": "Send the exact amount below. This page updates itself.",
    }
    assert 3500 < buyer.status(order["id"])["expires_in"] <= 3600

    buyer.receive(order["id"], 5_000_000)
    state = buyer.status(order["id"])
    assert (state["status"], state["amount_received"], state["amount_remaining"]) == (
        "pending",
        "5",
        "7.5",
    )
    assert state["flags"] == ["underpaid"]
    assert state["headline"] == "Partly paid"
    assert "7.5 USDT" in state["detail"]

    buyer.receive(order["id"], 7_500_000)
    state = buyer.status(order["id"])
    assert (state["status"], state["amount_received"], state["amount_remaining"]) == (
        "confirming",
        "12.5",
        "0",
    )
    assert state["flags"] == []
    assert state["headline"] == "Payment received"

    buyer.confirm_all(order["id"])
    state = buyer.status(order["id"])
    assert state["status"] == "paid"
    assert state["headline"] == "Paid"
    assert "Paid" in page_text(client, order["id"])


def test_a_partly_paid_order_asks_for_the_rest(client, buyer):
    order = buyer.order("12.5")
    buyer.receive(order["id"], 10_000_000)
    html = page_text(client, order["id"])
    rest_uri = order["payment_uri"].replace("uint256=12500000", "uint256=2500000")
    assert rest_uri != order["payment_uri"]
    assert f'href="{rest_uri}"' in html
    assert qr_path(rest_uri) in html
    assert re.search(r'id="pay-amount">2\.5</span>', html)
    assert re.search(r'data-field="amount_remaining">2\.5</span>', html)


def test_overpaid_order_is_paid_and_says_so(buyer):
    order = buyer.order("10")
    buyer.receive(order["id"], 12_000_000, confirmed=True)
    state = buyer.status(order["id"])
    assert state["status"] == "paid"
    assert state["flags"] == ["overpaid"]
    assert state["amount_remaining"] == "0"
    assert "2 USDT more" in state["detail"]


def test_expired_and_cancelled_orders_hide_the_address(client, buyer, merchant):
    late = buyer.order("10")
    buyer.age(late["id"], timedelta(seconds=1))
    state = buyer.status(late["id"])
    # the watcher has not expired it yet: the buyer is told already
    assert (state["status"], state["expires_in"]) == ("expired", 0)
    assert 'class="pay" data-when="pending" hidden' in page_text(client, late["id"])

    buyer.receive(late["id"], 4_000_000)
    buyer.set_status(late["id"], "expired")
    state = buyer.status(late["id"])
    assert state["status"] == "expired"
    assert state["flags"] == ["underpaid", "late"]
    assert "6 USDT missing" in state["detail"]

    cancelled = buyer.order("10")
    response = client.post(f"/api/v1/orders/{cancelled['id']}/cancel", headers=merchant.headers)
    assert response.status_code == 200
    assert buyer.status(cancelled["id"])["status"] == "cancelled"
    html = page_text(client, cancelled["id"])
    assert "Cancelled" in html
    assert 'class="pay" data-when="pending" hidden' in html


def test_unknown_order_is_a_friendly_html_404(client):
    for path in ("/pay/ord_doesnotexist", "/pay/ord_doesnotexist/status.json"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "Payment not found" in response.get_data(as_text=True)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


def test_pages_feed_and_assets_carry_security_headers(client, buyer):
    order = buyer.order()
    paths = [
        f"/pay/{order['id']}",
        f"/pay/{order['id']}/status.json",
        "/pay/static/checkout.css",
        "/pay/static/checkout.js",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        response.close()
    assert client.get(f"/pay/{order['id']}").headers["Cache-Control"] == "no-store"


def test_page_runs_no_inline_script_and_works_without_javascript(client, buyer):
    order = buyer.order()
    html = page_text(client, order["id"])
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert scripts == [""]  # the one script is the static file
    assert '<script src="/pay/static/checkout.js" defer>' in html
    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+"></noscript>', html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "style=" not in html


def test_nothing_private_reaches_the_buyer(client, buyer, merchant):
    order = buyer.order(metadata={"customer_email": "alice@example.com", "note": "VIP-Customer"})
    seen = page_text(client, order["id"]) + client.get(f"/pay/{order['id']}/status.json").text
    for private in (
        merchant.id,
        "alice@example.com",
        "VIP-Customer",
        "cart-1",
        "/api/",
        merchant.key,
    ):
        assert private not in seen


def test_orders_link_to_their_checkout_page_in_api_and_webhooks(app, buyer):
    order = buyer.order()
    assert order["checkout_url"] == f"http://127.0.0.1:5000/pay/{order['id']}"
    buyer.receive(order["id"], 1_000_000)  # as the watcher records it
    with app.app_context():
        events = db.session().scalars(sa.select(Event).order_by(Event.seq)).all()
    links = {
        e.type: (e.data.get("order") or e.data).get("checkout_url")
        for e in events
        if order["id"] in (e.data.get("id"), e.data.get("order_id"))
    }
    assert links == {
        "order.created": order["checkout_url"],
        "order.underpaid": order["checkout_url"],
        "payment.received": order["checkout_url"],
    }
