"""The dashboard's guards through the test client: CSRF, sessions, back-off, roles, one
merchant's things hidden from another's users, and private keys refused unseen."""

from __future__ import annotations

import logging

import pyotp
import sqlalchemy as sa
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins

from gateway.core.accounts import throttle
from gateway.core.accounts.models import User
from gateway.core.audit import AuditEntry
from gateway.core.models import ApiKey, HdAccount
from gateway.web import db
from tests.dashboard.conftest import Dashboard
from tests.support.keys import STANDARD_MNEMONIC


def test_a_post_without_csrf_token_is_refused(app, signed_in):
    response = signed_in.client.post("/dashboard/keys", data={"key-name": "x"})
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    login = Dashboard(app.test_client()).client.post(
        "/dashboard/login", data={"email": "a@example.com", "password": "x"}
    )
    assert login.status_code == 400


def test_a_session_cookie_replayed_after_logout_is_refused(app, owner):
    board = Dashboard(app.test_client())
    assert board.login(owner).status_code == 302
    cookie = board.client.get_cookie("gateway_session", path="/dashboard")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    assert board.client.get("/dashboard/").status_code == 200
    assert board.post("/dashboard/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("gateway_session", cookie.value, path="/dashboard")
    replayed = thief.get("/dashboard/")
    assert replayed.status_code == 302 and "/dashboard/login" in replayed.headers["Location"]


def test_the_cookie_is_secure_behind_https(app_config, owner, make_merchant):
    from gateway.web.app import create_app

    app_config["server"]["base_url"] = "https://pay.example.com"
    secure_app = create_app(app_config)
    try:
        board = Dashboard(secure_app.test_client())
        board.login(owner)
        assert board.client.get_cookie("gateway_session", path="/dashboard").secure
    finally:
        secure_app.extensions["db.engine"].dispose()


def test_brute_force_on_login_is_slowed_down(app, owner):
    board = Dashboard(app.test_client())
    for _ in range(throttle.FREE_FAILURES["account"]):
        wrong = board.login(owner, "wrong password")
        assert wrong.status_code == 200
        assert "Wrong email or password." in wrong.get_data(as_text=True)
    board.login(owner, "wrong again")  # one past the free failures: the wait starts
    blocked = board.login(owner)  # even the right password has to wait now
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)


def test_totp_is_asked_after_the_password(app, owner):
    board = Dashboard(app.test_client())
    board.login(owner)
    page = board.text("/dashboard/security")
    secret = page.split('id="totp-secret">')[1].split("<")[0]
    enrolled = board.post(
        "/dashboard/security/totp", {"code": pyotp.TOTP(secret).now()}, "/dashboard/security"
    )
    html = enrolled.get_data(as_text=True)
    assert enrolled.status_code == 200 and "Your recovery codes" in html
    recovery = html.split('<ol class="codes"><li><code>')[1].split("<")[0]
    board.post("/dashboard/logout")

    again = Dashboard(app.test_client())
    step = again.login(owner)
    assert step.status_code == 302 and "/dashboard/login/code" in step.headers["Location"]
    assert again.client.get("/dashboard/").status_code == 302  # not signed in yet
    token = again.token("/dashboard/login/code")
    wrong = again.client.post("/dashboard/login/code", data={"code": "000000", "csrf_token": token})
    assert "not valid" in wrong.get_data(as_text=True)
    done = again.client.post("/dashboard/login/code", data={"code": recovery, "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith("/dashboard/")
    assert again.client.get("/dashboard/").status_code == 200


def test_a_viewer_sees_no_write_button_and_cannot_post(app, make_user, merchant, owner):
    viewer = make_user(merchant.id, "viewer")
    board = Dashboard(app.test_client())
    board.login(viewer)
    for path, button in (
        ("/dashboard/keys", "Create the key"),
        ("/dashboard/webhooks", "Add an endpoint"),
        ("/dashboard/team", "Make an invitation link"),
        ("/dashboard/settings", "Show the first addresses"),
    ):
        assert button not in board.text(path), path
    for path in (
        "/dashboard/keys",
        "/dashboard/webhooks",
        "/dashboard/team",
        "/dashboard/settings/xpub",
        "/dashboard/settings/branding",
        "/dashboard/orders/test",
    ):
        response = board.post(path, {"key-confirm": viewer.password})
        assert response.status_code == 403, path
    operator = make_user(merchant.id, "operator")
    board = Dashboard(app.test_client())
    board.login(operator)
    assert "Create the key" not in board.text("/dashboard/keys")
    assert board.post("/dashboard/keys", {}).status_code == 403
    assert "Add an endpoint" in board.text("/dashboard/webhooks")


def test_another_merchants_order_endpoint_and_key_are_not_found(
    app, signed_in, merchant, other_merchant, buyer
):
    theirs = buyer.order("5")  # an order of `merchant`, seen by another merchant's owner
    made = signed_in.post(
        "/dashboard/webhooks",
        {"new-url": "http://127.0.0.1:9/hook", "new-event_types": "*"},
        "/dashboard/webhooks",
    )
    assert made.status_code == 200
    with app.app_context():
        endpoint = db.session().scalar(sa.text("select id from webhook_endpoints"))
        key = db.session().scalar(sa.select(ApiKey.id).where(ApiKey.merchant_id == merchant.id))
    assert signed_in.client.get(f"/dashboard/orders/{theirs['id']}").status_code == 200

    from gateway.core.accounts import users

    with app.app_context(), db.transaction() as session:
        from gateway.core.models import Merchant

        users.create(
            session,
            session.get(Merchant, other_merchant.id),
            "x@other.example",
            "a long password",
            "owner",
        )
    stranger = Dashboard(app.test_client())
    stranger.client.post(
        "/dashboard/login",
        data={
            "email": "x@other.example",
            "password": "a long password",
            "csrf_token": stranger.token(),
        },
    )
    assert stranger.client.get("/dashboard/").status_code == 200
    for path in (
        f"/dashboard/orders/{theirs['id']}",
        f"/dashboard/keys/{key}",
        f"/dashboard/webhooks?hook={endpoint}",
    ):
        response = stranger.client.get(path)
        if "?" in path:
            assert "127.0.0.1:9/hook" not in response.get_data(as_text=True)
        else:
            assert response.status_code == 404, path
    for path in (
        f"/dashboard/orders/{theirs['id']}/cancel",
        f"/dashboard/webhooks/{endpoint}/ping",
        f"/dashboard/webhooks/{endpoint}/rotate",
        f"/dashboard/keys/{key}/revoke",
    ):
        assert stranger.post(path).status_code == 404, path


def _private_forms() -> dict[str, str]:
    seed = Bip39SeedGenerator(STANDARD_MNEMONIC).Generate()
    account = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(7)
    bitcoin = Bip44.FromSeed(seed, Bip44Coins.BITCOIN).Purpose().Coin().Account(7)
    return {
        "extended private key": account.PrivateKey().ToExtended(),
        "hex private key": account.PrivateKey().Raw().ToHex(),
        "WIF private key": bitcoin.PrivateKey().ToWif(),
        "recovery phrase": STANDARD_MNEMONIC,
    }


def test_a_private_key_pasted_as_xpub_is_refused_unstored_unlogged(app, signed_in, caplog):
    caplog.set_level(logging.DEBUG)
    for kind, secret in _private_forms().items():
        response = signed_in.post(
            "/dashboard/settings/xpub",
            {"xpub-chain": "devnet", "xpub-xpub": secret, "action": "preview"},
            "/dashboard/settings",
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 422, kind
        assert f"this looks like a {kind}" in html
        assert secret not in html, kind  # not even echoed back into the field
        assert secret not in caplog.text
    with app.app_context():
        stored = db.session().scalars(sa.select(HdAccount.xpub)).all()
        audited = db.session().scalars(sa.select(AuditEntry.details)).all()
    assert not any(secret in str(stored) + str(audited) for secret in _private_forms().values())


def test_an_xpub_is_previewed_then_saved_after_a_step_up(app, signed_in, merchant):
    seed = Bip39SeedGenerator(STANDARD_MNEMONIC).Generate()
    node = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(9)
    xpub = node.PublicKey().ToExtended()
    wrong_level = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).PublicKey().ToExtended()
    refused = signed_in.post(
        "/dashboard/settings/xpub",
        {"xpub-chain": "devnet", "xpub-xpub": wrong_level, "action": "preview"},
        "/dashboard/settings",
    )
    assert refused.status_code == 422 and "account-level" in refused.get_data(as_text=True)
    preview = signed_in.post(
        "/dashboard/settings/xpub",
        {"xpub-chain": "devnet", "xpub-xpub": xpub, "action": "preview"},
        "/dashboard/settings",
    )
    html = preview.get_data(as_text=True)
    first = node.Change(Bip44Changes.CHAIN_EXT).AddressIndex(0).PublicKey().ToAddress()
    assert "m/44&#39;/60&#39;/9&#39;/0/4" in html or "m/44'/60'/9'/0/4" in html
    assert first.lower() in html.lower()
    save = {"xpub-chain": "devnet", "xpub-xpub": xpub, "action": "save"}
    no_step_up = signed_in.post("/dashboard/settings/xpub", save, "/dashboard/settings")
    assert no_step_up.status_code == 422
    assert "Wrong password or code." in no_step_up.get_data(as_text=True)
    done = signed_in.post(
        "/dashboard/settings/xpub",
        {**save, "xpub-confirm": "correct horse battery"},
        "/dashboard/settings",
    )
    assert done.status_code == 302
    with app.app_context():
        account = db.session().scalar(
            sa.select(HdAccount).where(
                HdAccount.merchant_id == merchant.id, HdAccount.family == "evm"
            )
        )
    assert account.xpub == xpub


def test_bad_input_is_shown_beside_the_field_never_a_stack_trace(signed_in):
    cases = [
        ("/dashboard/webhooks", {"new-url": "not a url", "new-event_types": "*"}, "Not a URL."),
        ("/dashboard/webhooks", {"new-url": "http://127.0.0.1:9/x"}, "Choose at least one event."),
        (
            "/dashboard/keys",
            {"key-scopes": "orders:read", "key-allowed_ips": "no-ip", "key-confirm": "x"},
            "Each line must be an IP address",
        ),
        ("/dashboard/keys", {"key-confirm": "x"}, "Choose at least one scope."),
        ("/dashboard/settings/orders", {"orders-expiry": "0"}, "At least 1 minute."),
        ("/dashboard/settings/orders", {"orders-expiry": "999999"}, "Between 1 and"),
        ("/dashboard/settings/branding", {"brand-logo_url": "javascript:alert(1)"}, "Must be an"),
        ("/dashboard/team", {"invite-email": "nobody", "invite-role": "viewer"}, "Not an email"),
        (
            "/dashboard/orders/test",
            {"chain": "devnet", "amount": "1.2.3", "reference": "x"},
            "Not an amount",
        ),
    ]
    for path, data, words in cases:
        response = signed_in.post(path, data, "/dashboard/settings")
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (path, data)
        assert words in html, (path, words)
        assert 'class="error' in html and "Traceback" not in html


def test_dashboard_actions_are_audited_with_the_user_and_ip(app, signed_in, owner):
    signed_in.post(
        "/dashboard/keys",
        {"key-scopes": "orders:read", "key-confirm": owner.password},
        "/dashboard/keys",
    )
    with app.app_context():
        entries = (
            db.session()
            .execute(sa.select(AuditEntry.action, AuditEntry.actor, AuditEntry.ip))
            .all()
        )
        user = db.session().get(User, owner.id)
    assert ("api_key.create", owner.id, "127.0.0.1") in entries
    assert ("user.login", owner.id, "127.0.0.1") in entries
    assert user.last_login_ip == "127.0.0.1"
    html = signed_in.text("/dashboard/audit?action=api_key")
    assert "api_key.create" in html and owner.email in html and "user.login" not in html
