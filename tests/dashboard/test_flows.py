"""What the dashboard's settings and buttons change elsewhere: order expiry in the API,
branding on the checkout page, the 2FA policy, invitations, pings, test orders, payouts
approved by the user (not a key) and the ledger's CSV."""

from __future__ import annotations

import re
from datetime import datetime

import pyotp
import sqlalchemy as sa

from gateway.core.audit import AuditEntry
from gateway.core.models import Event, Order
from gateway.core.schemas import PingSchema
from gateway.core.wallet.models import Payout, PayoutWallet
from gateway.web import db
from tests.dashboard.conftest import PASSWORD, Dashboard
from webhooks.models import Delivery


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_merchants_order_expiry_is_the_apis_default(signed_in, buyer):
    assert signed_in.post("/dashboard/settings/orders", {"orders-expiry": "15"}).status_code == 302
    made = buyer.order("5")
    minutes = (_when(made["expires_at"]) - _when(made["created_at"])).total_seconds() / 60
    assert 14.9 < minutes <= 15
    asked = buyer.order("5", expires_in=7200)
    assert (_when(asked["expires_at"]) - _when(asked["created_at"])).total_seconds() > 7100


def test_branding_shows_on_the_checkout_page(signed_in, client, buyer):
    saved = signed_in.post(
        "/dashboard/settings/branding",
        {
            "brand-brand_name": "Corner Shop",
            "brand-logo_url": "https://cdn.corner.example/logo.png",
            "brand-return_url": "https://corner.example/cart",
        },
    )
    assert saved.status_code == 302
    order = buyer.order("5")
    page = client.get(f"/pay/{order['id']}")
    html = page.get_data(as_text=True)
    assert "Corner Shop" in html
    assert 'src="https://cdn.corner.example/logo.png"' in html
    assert 'href="https://corner.example/cart"' in html and "Back to Corner Shop" in html
    assert (
        "img-src 'self' data: https://cdn.corner.example;"
        in page.headers["Content-Security-Policy"]
    )


def test_required_2fa_sends_users_to_enrol(app, signed_in, owner, make_user, merchant):
    refused = signed_in.post("/dashboard/settings/two-factor", {"policy-required": "y"})
    assert refused.status_code == 422  # the owner first
    secret = signed_in.text("/dashboard/security").split('id="totp-secret">')[1].split("<")[0]
    signed_in.post("/dashboard/security/totp", {"code": pyotp.TOTP(secret).now()})
    assert (
        signed_in.post("/dashboard/settings/two-factor", {"policy-required": "y"}).status_code
        == 302
    )
    viewer = make_user(merchant.id, "viewer")
    board = Dashboard(app.test_client())
    board.login(viewer)
    sent = board.client.get("/dashboard/orders")
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/dashboard/security")
    assert "turn it on to continue" in board.text("/dashboard/security")


def test_an_invitation_link_works_once(app, signed_in):
    made = signed_in.post(
        "/dashboard/team", {"invite-email": "New@Example.com", "invite-role": "operator"}
    )
    link = re.search(r'id="link-value">([^<]+)<', made.get_data(as_text=True)).group(1)
    path = link.split("127.0.0.1:5000")[1]
    newcomer = Dashboard(app.test_client())
    assert "You sign in as new@example.com." in newcomer.text(path)
    form = {"name": "Nina", "password": "a new password", "repeat": "a new password"}
    joined = newcomer.client.post(path, data={**form, "csrf_token": newcomer.token(path)})
    assert joined.status_code == 302
    again = newcomer.client.post(path, data={**form, "csrf_token": newcomer.token()})
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)
    response = newcomer.client.post(
        "/dashboard/login",
        data={
            "email": "new@example.com",
            "password": "a new password",
            "csrf_token": newcomer.token(),
        },
    )
    assert response.status_code == 302
    assert "operator" in newcomer.text("/dashboard/")


def test_a_ping_goes_to_one_endpoint_with_its_documented_schema(app, signed_in, merchant):
    for url in ("http://127.0.0.1:9/one", "http://127.0.0.1:9/two"):
        signed_in.post("/dashboard/webhooks", {"new-url": url, "new-event_types": "*"})
    with app.app_context():
        first = db.session().scalar(
            sa.text("select id from webhook_endpoints where url like '%/one'")
        )
    sent = signed_in.post(f"/dashboard/webhooks/{first}/ping")
    assert sent.status_code == 302 and "/dashboard/deliveries/dlv_" in sent.headers["Location"]
    with app.app_context():
        deliveries = db.session().scalars(sa.select(Delivery)).all()
        event = db.session().scalar(sa.select(Event).where(Event.type == "ping"))
    assert [d.endpoint_id for d in deliveries] == [first]
    assert event.dispatched_at is not None  # the outbox gives it to no other endpoint
    assert set(event.data) == set(PingSchema().fields)  # what the schema documents
    assert (event.data["object"], event.data["endpoint_id"]) == ("ping", first)
    assert "ping" in signed_in.text(sent.headers["Location"])


def test_a_test_order_on_the_devnet(app, signed_in, merchant):
    made = signed_in.post(
        "/dashboard/orders/test",
        {"chain": "devnet", "amount": "12.5", "reference": "try"},
        "/dashboard/orders",
    )
    assert made.status_code == 302
    order_id = made.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        order = db.session().scalar(sa.select(Order).where(Order.id == order_id))
    assert (order.merchant_id, order.amount, order.reference) == (merchant.id, 12_500_000, "try")
    assert "12.5 USDT" in signed_in.text(f"/dashboard/orders/{order_id}")


def _payout(app, merchant_id: str) -> str:
    with app.app_context(), db.transaction() as session:
        wallet = PayoutWallet(
            merchant_id=merchant_id, chain="devnet", mode="external",
            address="0x" + "12" * 20, decimals=6,
        )  # fmt: skip
        session.add(wallet)
        session.flush()
        payout = Payout(
            merchant_id=merchant_id, chain="devnet", wallet_id=wallet.id,
            to_address="0x" + "34" * 20, amount=7_000_000, decimals=6, created_by="key_creator",
        )  # fmt: skip
        session.add(payout)
        session.flush()
        return payout.id


def test_a_payout_is_approved_by_the_user_after_a_step_up(app, signed_in, owner, merchant):
    payout_id = _payout(app, merchant.id)
    assert payout_id in signed_in.text("/dashboard/payouts")
    path = f"/dashboard/payouts/{payout_id}/approve"
    wrong = signed_in.post(path, {f"{payout_id}-confirm": "not my password"}, "/dashboard/payouts")
    assert wrong.status_code == 422 and "Wrong password or code." in wrong.get_data(as_text=True)
    done = signed_in.post(path, {f"{payout_id}-confirm": PASSWORD}, "/dashboard/payouts")
    assert done.status_code == 302
    with app.app_context():
        payout = db.session().scalar(sa.select(Payout).where(Payout.id == payout_id))
        audit = db.session().scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "payout.approve")
        )
    assert (payout.status, payout.approved_by) == ("approved", owner.id)
    assert (audit.actor, audit.ip) == (owner.id, "127.0.0.1")
    csv = signed_in.client.get("/dashboard/payouts/transactions.csv")
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).startswith("created_at,movement,chain,kind,account")


def test_an_operator_cancels_but_cannot_approve(app, make_user, merchant):
    payout_id = _payout(app, merchant.id)
    operator = make_user(merchant.id, "operator")
    board = Dashboard(app.test_client())
    board.login(operator)
    assert "Approve" not in board.text("/dashboard/payouts")
    field = {f"{payout_id}-confirm": PASSWORD}
    assert board.post(f"/dashboard/payouts/{payout_id}/approve", field).status_code == 403
    assert board.post(f"/dashboard/payouts/{payout_id}/cancel", field).status_code == 302
    with app.app_context():
        assert db.session().scalar(sa.select(Payout.status)) == "cancelled"


def test_the_ping_event_is_documented_in_the_openapi_document(client):
    schemas = client.get("/api/openapi.json").json["components"]["schemas"]
    assert schemas["PingEvent"]["properties"]["type"]["enum"] == ["ping"]
    assert set(schemas["Ping"]["properties"]) == set(PingSchema().fields)


def test_an_order_is_cancelled_and_its_payments_link_to_the_explorer(app, app_config, owner, buyer):
    from gateway.web.app import create_app

    app_config["dashboard"] = {"explorers": {"devnet": "https://scan.devnet.example/tx/{tx}"}}
    linked = create_app(app_config)
    try:
        board = Dashboard(linked.test_client())
        board.login(owner)
        paid, open_ = buyer.order("3"), buyer.order("4")
        buyer.receive(paid["id"], 3_000_000, confirmed=True)
        html = board.text(f"/dashboard/orders/{paid['id']}")
        assert 'href="https://scan.devnet.example/tx/0x' in html
        assert "Cancel the order" not in html  # money arrived
        assert board.post(f"/dashboard/orders/{open_['id']}/cancel").status_code == 302
        assert buyer.status(open_["id"])["status"] == "cancelled"
        with linked.app_context():
            actions = db.session().scalars(sa.select(AuditEntry.action)).all()
        assert "order.cancel" in actions
    finally:
        linked.extensions["db.engine"].dispose()
