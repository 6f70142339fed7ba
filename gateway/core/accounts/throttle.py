"""Back-off of failed logins, per account and per IP address, kept in the database so
every web process sees the same counts (and a Redis outage cannot turn it off)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.accounts.models import LoginThrottle

# failures allowed before waiting: an IP address may serve a whole office
FREE_FAILURES = {"account": 5, "ip": 20}
MAX_WAIT = timedelta(minutes=15)


def account_key(email: str) -> str:
    """The throttle key of a login name (known or not: both answer alike)."""
    return "account:" + email.strip().lower()


def ip_key(ip: str | None) -> str:
    """The throttle key of a client address."""
    return f"ip:{ip or 'unknown'}"


def wait_seconds(session: Session, keys: list[str], now: datetime) -> int:
    """Seconds until every key may try again (0: now)."""
    wait = 0
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            wait = max(wait, int((row.blocked_until - now).total_seconds()) + 1)
    return wait


def failed(session: Session, key: str, now: datetime) -> None:
    """Count a failure; past the free ones each doubles the wait (1 s, 2 s, 4 s ... 15 min)."""
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0)
        session.add(row)
    row.failures += 1
    row.updated_at = now
    free = FREE_FAILURES[key.split(":", 1)[0]]
    if row.failures > free:
        excess = min(row.failures - free - 1, 20)
        row.blocked_until = now + min(timedelta(seconds=2**excess), MAX_WAIT)


def succeeded(session: Session, key: str) -> None:
    """Forget a key's failures."""
    session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == key))
