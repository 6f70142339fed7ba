"""Users: created by the operator or by invitation, signed in with a password (and a TOTP
code), confirmed again for critical operations, reset with a one-time link."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core.accounts import passwords, throttle, totp
from gateway.core.accounts.models import Role, UsedToken, User
from gateway.core.models import Merchant, utcnow

INVITE, RESET = "invite", "reset"


class AccountError(ValueError):
    """A refused account operation; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class LoginResult:
    """The user whose password matched, or how long to wait before trying again."""

    user: User | None = None
    wait: int = 0


def normalize_email(email: str) -> str:
    """The login name as stored: trimmed and lower-cased; AccountError when not an address."""
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError("not an email address", "email")
    return email


def create(
    session: Session, merchant: Merchant, email: str, password: str, role: str, name: str = ""
) -> User:
    """A new user of ``merchant``; AccountError when the email is taken or input is bad."""
    if role not in tuple(Role):
        raise AccountError(f"unknown role {role!r}", "role")
    email = normalize_email(email)
    if session.scalar(sa.select(User.id).where(User.email == email)):
        raise AccountError("a user with this email exists", "email")
    try:
        hashed = passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise AccountError(f"password: {exc}", "password") from None
    user = User(
        merchant_id=merchant.id, email=email, password_hash=hashed, role=role, name=name.strip()
    )
    session.add(user)
    session.flush()
    return user


def by_email(session: Session, email: str) -> User | None:
    """The user who signs in with ``email``."""
    return session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def login(session: Session, email: str, password: str, ip: str | None) -> LoginResult:
    """Check a password under the per-account and per-IP back-off; failures are counted."""
    now = utcnow()
    keys = [throttle.account_key(email), throttle.ip_key(ip)]
    wait = throttle.wait_seconds(session, keys, now)
    if wait:
        # a try while waiting is a failure too: hammering only lengthens the wait
        for key in keys:
            throttle.failed(session, key, now)
        return LoginResult(wait=throttle.wait_seconds(session, keys, now))
    user = by_email(session, email)
    ok = passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled_at is not None:
        for key in keys:
            throttle.failed(session, key, now)
        return LoginResult()
    throttle.succeeded(session, keys[0])
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return LoginResult(user=user)


def second_factor(session: Session, user: User, code: str, ip: str | None) -> LoginResult:
    """Check a TOTP or recovery code at login, under the same back-off as passwords."""
    now = utcnow()
    keys = [throttle.account_key(user.email), throttle.ip_key(ip)]
    if throttle.wait_seconds(session, keys, now):
        for key in keys:
            throttle.failed(session, key, now)
        return LoginResult(wait=throttle.wait_seconds(session, keys, now))
    if totp.use_code(user, code) or totp.use_recovery_code(user, code):
        throttle.succeeded(session, keys[0])
        return LoginResult(user=user)
    for key in keys:
        throttle.failed(session, key, now)
    return LoginResult()


def signed_in(user: User, ip: str | None) -> None:
    """Note a completed login."""
    user.last_login_at, user.last_login_ip = utcnow(), ip


def confirm(session: Session, user: User, password_or_code: str) -> bool:
    """Step-up for a critical operation: the password again, or a fresh TOTP code.

    Failures count against the account like failed logins, so a stolen session cannot
    guess the password here either; while the account waits, nothing is accepted.
    """
    now = utcnow()
    key = throttle.account_key(user.email)
    if throttle.wait_seconds(session, [key], now):
        return False
    value = password_or_code.strip()
    if user.has_totp and totp.use_code(user, value):
        return True
    if passwords.verify(user.password_hash, password_or_code):
        return True
    throttle.failed(session, key, now)
    return False


def change_password(session: Session, user: User, new_password: str) -> None:
    """Set a new password; AccountError when the policy refuses it."""
    try:
        user.password_hash = passwords.hash_password(new_password)
    except passwords.WeakPassword as exc:
        raise AccountError(f"password: {exc}", "password") from None


# -- one-time links ----------------------------------------------------------------------


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"gateway-dashboard-{purpose}")


def make_invite(secret_key: str, merchant_id: str, email: str, role: str, by: str) -> str:
    """A signed invitation token for ``email`` to join ``merchant_id`` as ``role``."""
    if role not in tuple(Role):
        raise AccountError(f"unknown role {role!r}", "role")
    payload = {"m": merchant_id, "e": normalize_email(email), "r": role, "by": by}
    return _serializer(secret_key, INVITE).dumps({**payload, "j": secrets.token_hex(16)})


def make_reset(secret_key: str, user: User) -> str:
    """A signed password-reset token for ``user``."""
    return _serializer(secret_key, RESET).dumps({"u": user.id, "j": secrets.token_hex(16)})


def read_token(secret_key: str, purpose: str, token: str, max_age: int) -> dict[str, Any]:
    """The payload of a valid, unexpired token; AccountError otherwise (nothing is spent)."""
    try:
        payload = _serializer(secret_key, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise AccountError("this link has expired; ask for a new one") from None
    except BadSignature:
        raise AccountError("this link is not valid") from None
    return payload


def spend(session: Session, purpose: str, payload: dict[str, Any]) -> None:
    """Mark a token used, in the caller's transaction; AccountError if it was used before."""
    try:
        with session.begin_nested():
            session.add(UsedToken(id=payload["j"], purpose=purpose))
    except IntegrityError:
        raise AccountError("this link has been used already") from None


def accept_invite(session: Session, payload: dict[str, Any], password: str, name: str = "") -> User:
    """Create the invited user (the token is spent in the same transaction)."""
    merchant = session.get(Merchant, payload["m"])
    if merchant is None:
        raise AccountError("this link is not valid")
    spend(session, INVITE, payload)
    return create(session, merchant, payload["e"], password, payload["r"], name)


def reset_password(session: Session, payload: dict[str, Any], password: str) -> User:
    """Set the password of the token's user; 2FA stays as it is."""
    user = session.get(User, payload["u"])
    if user is None or user.disabled_at is not None:
        raise AccountError("this link is not valid")
    spend(session, RESET, payload)
    change_password(session, user, password)
    return user


def of_merchant(session: Session, merchant_id: str) -> list[User]:
    """The merchant's users, oldest first."""
    return list(
        session.scalars(
            sa.select(User).where(User.merchant_id == merchant_id).order_by(User.created_at)
        )
    )


def disable(session: Session, user: User) -> None:
    """Stop a user from signing in; AccountError for the merchant's last owner."""
    if user.role == Role.OWNER and _owners(session, user.merchant_id) <= 1:
        raise AccountError("the last owner cannot be removed")
    user.disabled_at = user.disabled_at or utcnow()


def set_role(session: Session, user: User, role: str) -> None:
    """Change a user's role; the last owner stays an owner."""
    if role not in tuple(Role):
        raise AccountError(f"unknown role {role!r}", "role")
    if user.role == Role.OWNER and role != Role.OWNER and _owners(session, user.merchant_id) <= 1:
        raise AccountError("the last owner must stay an owner", "role")
    user.role = role


def _owners(session: Session, merchant_id: str) -> int:
    return session.scalar(
        sa.select(sa.func.count()).where(
            User.merchant_id == merchant_id, User.role == Role.OWNER, User.disabled_at.is_(None)
        )
    )
