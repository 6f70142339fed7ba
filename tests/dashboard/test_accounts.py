"""Account services without a browser: passwords, one-time links, TOTP, back-off, CLI."""

from __future__ import annotations

import time

import pyotp
import pytest
import sqlalchemy as sa

from gateway.core.accounts import passwords, sessions, throttle, totp, users
from gateway.core.accounts.models import LoginThrottle, User
from gateway.core.models import Merchant, utcnow
from gateway.web import db

SECRET = "test-secret"


@pytest.fixture
def chain_settings():
    """Accounts need no chain."""
    return {}


@pytest.fixture
def shop(app):
    with app.app_context(), db.transaction() as session:
        merchant = Merchant(name="Shop")
        session.add(merchant)
        session.flush()
        return merchant


def test_passwords_are_argon2id_and_the_policy_is_enforced(app, shop):
    with app.app_context(), db.transaction() as session:
        user = users.create(session, shop, " Owner@Example.com ", "correct horse 1", "owner")
        assert user.email == "owner@example.com"
        assert user.password_hash.startswith("$argon2id$")
        assert "correct horse" not in user.password_hash
        for bad, field in (("short", "password"), ("x" * 300, "password")):
            with pytest.raises(users.AccountError) as refused:
                users.create(session, shop, "b@example.com", bad, "viewer")
            assert refused.value.field == field
        with pytest.raises(users.AccountError, match="exists"):
            users.create(session, shop, "OWNER@example.com", "another pass 1", "viewer")
        with pytest.raises(users.AccountError, match="email"):
            users.create(session, shop, "not-an-email", "another pass 1", "viewer")
    assert not passwords.verify(None, "anything at all")


def test_login_backs_off_per_account_and_per_ip(app, shop):
    with app.app_context(), db.transaction() as session:
        users.create(session, shop, "a@example.com", "right password", "owner")
    with app.app_context():
        for _ in range(throttle.FREE_FAILURES["account"]):
            with db.transaction() as session:
                assert users.login(session, "a@example.com", "wrong", "10.0.0.1").user is None
        with db.transaction() as session:
            # past the free failures even the right password waits
            assert users.login(session, "a@example.com", "wrong", "10.0.0.1").wait == 0
            blocked = users.login(session, "a@example.com", "right password", "10.0.0.2")
            assert blocked.user is None and blocked.wait >= 1
        with db.transaction() as session:
            row = session.get(LoginThrottle, "account:a@example.com")
            row.blocked_until = utcnow()  # the wait is over
        with db.transaction() as session:
            assert users.login(session, "a@example.com", "right password", "10.0.0.2").user
            assert session.get(LoginThrottle, "account:a@example.com") is None
        # one address trying many accounts is slowed down too
        for n in range(throttle.FREE_FAILURES["ip"] + 1):
            with db.transaction() as session:
                users.login(session, f"nobody{n}@example.com", "guess", "10.9.9.9")
        with db.transaction() as session:
            assert users.login(session, "a@example.com", "right password", "10.9.9.9").wait


def test_invites_and_resets_are_signed_timed_and_good_once(app, shop):
    token = users.make_invite(SECRET, shop.id, "new@example.com", "operator", "usr_x")
    payload = users.read_token(SECRET, users.INVITE, token, 3600)
    with pytest.raises(users.AccountError, match="not valid"):
        users.read_token("another-secret", users.INVITE, token, 3600)
    with pytest.raises(users.AccountError, match="not valid"):
        users.read_token(SECRET, users.RESET, token, 3600)  # an invite is no reset
    time.sleep(1.1)
    with pytest.raises(users.AccountError, match="expired"):
        users.read_token(SECRET, users.INVITE, token, 0)
    with app.app_context(), db.transaction() as session:
        user = users.accept_invite(session, payload, "a good password", "New")
        assert (user.role, user.merchant_id, user.name) == ("operator", shop.id, "New")
    with (
        app.app_context(),
        db.transaction() as session,
        pytest.raises(users.AccountError, match="used already"),
    ):
        users.accept_invite(session, payload, "a good password")
    with app.app_context(), db.transaction() as session:
        user = users.by_email(session, "new@example.com")
        reset = users.read_token(SECRET, users.RESET, users.make_reset(SECRET, user), 60)
        users.reset_password(session, reset, "a brand new password")
    with app.app_context(), db.transaction() as session:
        assert users.login(session, "new@example.com", "a brand new password", None).user
        with pytest.raises(users.AccountError, match="used already"):
            users.reset_password(session, reset, "yet another password")


def test_totp_codes_and_recovery_codes_work_once(app, shop):
    with app.app_context(), db.transaction() as session:
        user = users.create(session, shop, "t@example.com", "right password", "owner")
        secret = totp.new_secret()
        valid = {pyotp.TOTP(secret).at(time.time() + d * 30) for d in (-1, 0, 1)}
        wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
        assert totp.enable(user, secret, wrong) is None and not user.has_totp
        codes = totp.enable(user, secret, pyotp.TOTP(secret).now())
        assert codes and len(codes) == totp.RECOVERY_CODES and user.has_totp
        now = pyotp.TOTP(secret).now()
        assert not totp.use_code(user, now)  # the code that enrolled is spent
        assert totp.use_recovery_code(user, codes[0].upper())
        assert not totp.use_recovery_code(user, codes[0])
        assert len(user.recovery_codes) == totp.RECOVERY_CODES - 1
        assert totp.matching_step(secret, "12345") is None
        previous = pyotp.TOTP(secret).at(time.time() - 30)
        assert totp.matching_step(secret, previous) is not None  # clock drift of one step


def test_sessions_end_at_logout_and_when_idle(app, shop):
    from datetime import timedelta

    with app.app_context(), db.transaction() as session:
        user = users.create(session, shop, "s@example.com", "right password", "viewer")
        token = sessions.open_session(session, user, "1.2.3.4", "test", timedelta(hours=1))
    with app.app_context(), db.transaction() as session:
        assert sessions.find(session, token, timedelta(minutes=5))[1].id == user.id
        assert sessions.find(session, token + "x", timedelta(minutes=5)) is None
        assert sessions.find(session, token, timedelta(0)) is None  # idle too long
        sessions.revoke(session, token)
    with app.app_context(), db.transaction() as session:
        assert sessions.find(session, token, timedelta(minutes=5)) is None


def test_cli_creates_the_first_owner_without_booting_the_app(app, runner, shop, app_config):
    env = {"GATEWAY_DATABASE__URL": app_config["database"]["url"]}
    made = runner.invoke(
        args=["user", "create", "Shop", "boss@example.com", "--password-stdin"],
        input="a long password\n",
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert "boss@example.com (owner)" in made.output and "/dashboard/" in made.output
    again = runner.invoke(
        args=["user", "create", "Shop", "boss@example.com", "--password-stdin"],
        input="a long password\n",
        env=env,
    )
    assert again.exit_code != 0 and "exists" in again.output
    weak = runner.invoke(
        args=["user", "create", "Shop", "w@example.com", "--password-stdin"], input="x\n", env=env
    )
    assert weak.exit_code != 0 and "at least" in weak.output
    listed = runner.invoke(args=["user", "list", "Shop"], env=env)
    assert "boss@example.com  owner" in listed.output
    link = runner.invoke(
        args=["user", "reset-link", "boss@example.com"],
        env={**env, "GATEWAY_SERVER__SECRET_KEY": SECRET},
    )
    assert link.exit_code == 0 and "/dashboard/reset/" in link.output
    with app.app_context():
        stored = db.session().scalar(sa.select(User).where(User.email == "boss@example.com"))
        assert stored.role == "owner" and stored.merchant_id == shop.id
