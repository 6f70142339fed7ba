"""Dashboard sessions: a random token in the (signed) cookie, its hash in the database.
Logging out revokes the row, so a copied cookie is worthless afterwards."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.accounts.models import User, UserSession
from gateway.core.models import utcnow

TOUCH_EVERY = timedelta(minutes=1)  # a write per page view would be wasted


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session, user: User, ip: str | None, user_agent: str, lifetime: timedelta
) -> str:
    """Start a session for ``user``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            id=_hash(token),
            user_id=user.id,
            ip=ip,
            user_agent=user_agent[:300],
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def find(session: Session, token: str, idle: timedelta) -> tuple[UserSession, User] | None:
    """The live session of ``token`` and its user; None when revoked, expired or idle."""
    now = utcnow()
    found = session.get(UserSession, _hash(token))
    if found is None or found.revoked_at is not None or found.expires_at <= now:
        return None
    if found.last_seen_at + idle <= now:
        return None
    user = session.get(User, found.user_id)
    if user is None or user.disabled_at is not None:
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        found.last_seen_at = now
    return found, user


def revoke(session: Session, token: str) -> None:
    """End the session of ``token``."""
    found = session.get(UserSession, _hash(token))
    if found is not None and found.revoked_at is None:
        found.revoked_at = utcnow()


def revoke_all(session: Session, user_id: str, keep: str | None = None) -> None:
    """End every session of a user (but ``keep``'s, the one asking)."""
    query = sa.update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != _hash(keep))
    session.execute(query.values(revoked_at=utcnow()))
