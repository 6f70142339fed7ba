"""Every page renders for an owner, and the basic flows work through the test client."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from gateway.web import db
from gateway.web.app import create_app
from webhooks.models import WebhookEndpoint

PAGES = [
    "/dashboard/",
    "/dashboard/orders",
    "/dashboard/webhooks",
    "/dashboard/keys",
    "/dashboard/payouts",
    "/dashboard/audit",
    "/dashboard/settings",
    "/dashboard/team",
    "/dashboard/security",
]


def test_every_page_renders_for_the_owner(signed_in):
    for path in PAGES:
        html = signed_in.text(path)
        assert "Sign out" in html, path


def test_pages_need_a_session(client):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/dashboard/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "path", ["/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js"]
)
def test_assets_are_served_by_the_app(client, path):
    response = client.get(path)
    assert response.status_code == 200
    response.close()


def test_without_a_secret_key_the_dashboard_says_so(app_config):
    app_config["server"]["secret_key"] = ""
    bare = create_app(app_config)
    try:
        response = bare.test_client().get("/dashboard/login")
        assert response.status_code == 503
        assert "secret_key" in response.get_data(as_text=True)
    finally:
        bare.extensions["db.engine"].dispose()


def test_orders_filter_and_page_with_a_cursor(signed_in, buyer):
    made = [buyer.order("1", reference=f"page-{n}") for n in range(27)]
    buyer.order("2", chain="tron", reference="other-1")
    first = signed_in.text("/dashboard/orders?q=page-")
    assert made[-1]["id"] in first and made[1]["id"] not in first and "other-1" not in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = signed_in.text(older)
    assert made[1]["id"] in second and made[0]["id"] in second and made[-1]["id"] not in second
    assert 'rel="next"' not in second
    tron = signed_in.text("/dashboard/orders?chain=tron")
    assert "other-1" in tron and "page-3" not in tron
    assert "other-1" not in signed_in.text("/dashboard/orders?status=paid")
    assert "No order matches." in signed_in.text("/dashboard/orders?created_to=2000-01-01")
    bad = signed_in.client.get("/dashboard/orders?created_from=yesterday")
    assert bad.status_code == 200 and "Not a valid date value." in bad.get_data(as_text=True)


def test_a_keys_last_use_and_ip_are_shown(signed_in, merchant, client):
    assert client.get("/api/v1/orders", headers=merchant.headers).status_code == 200
    html = signed_in.text("/dashboard/keys")
    assert "127.0.0.1" in html and "never" not in html


def test_the_overview_compares_watchers_with_the_tip(signed_in, buyer):
    buyer.order("1")  # the chain's first order starts its cursor
    for _ in range(100):
        html = signed_in.text("/dashboard/")
        if "checking…" not in html:
            break
        time.sleep(0.1)
    row = html.split('<tr data-chain="devnet">')[1].split("</tr>")[0]
    numbers = [int(n) for n in re.findall(r'class="num">(?:<span[^>]*>)?(\d+)', row)]
    next_block, tip, behind = numbers[:3]
    assert tip >= next_block and behind == tip - next_block + 1


def test_an_endpoint_is_rotated_and_disabled(app, signed_in):
    signed_in.post(
        "/dashboard/webhooks", {"new-url": "http://127.0.0.1:9/h", "new-event_types": "*"}
    )
    with app.app_context():
        endpoint = db.session().scalar(sa.select(WebhookEndpoint))
    rotated = signed_in.post(f"/dashboard/webhooks/{endpoint.id}/rotate")
    secret = rotated.get_data(as_text=True).split('id="secret-value">')[1].split("<")[0]
    assert secret.startswith("whsec_") and secret != endpoint.secret
    assert signed_in.post(f"/dashboard/webhooks/{endpoint.id}/enabled").status_code == 302
    with app.app_context():
        endpoint = db.session().scalar(sa.select(WebhookEndpoint))
    assert (endpoint.enabled, endpoint.secret, endpoint.previous_secret) == (
        False,
        secret,
        endpoint.previous_secret,
    )
    assert "disabled" in signed_in.text("/dashboard/")  # an endpoint in trouble
