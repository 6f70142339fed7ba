"""Who is signed in, what their role lets them do, and the audit trail of what they do."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import abort, current_app, g, request, session

from gateway.core import audit
from gateway.core.accounts import roles, sessions
from gateway.core.accounts import settings as merchant_settings
from gateway.core.accounts.models import User
from gateway.core.audit import Actor
from gateway.core.models import Merchant
from gateway.web import db


def load_user() -> bool:
    """Find the session's user; False when there is none (or it was logged out)."""
    token = session.get("token")
    if not token:
        return False
    idle = timedelta(minutes=current_app.config["GATEWAY"]["dashboard"]["idle_minutes"])
    found = sessions.find(db.session(), token, idle)
    if found is None:
        return False
    db.session().commit()  # the touch of last_seen_at, if any
    g.user_session, g.user = found
    g.merchant_id = g.user.merchant_id
    g.merchant_name = db.session().get(Merchant, g.merchant_id).name
    return True


def must_enrol() -> bool:
    """Whether the merchant requires 2FA and this user has not enrolled yet."""
    if g.user.has_totp:
        return False
    return merchant_settings.of(db.session(), g.merchant_id).require_2fa


def can(permission: str) -> bool:
    """Whether the signed-in user's role allows ``permission`` (templates hide buttons)."""
    user: User | None = g.get("user")
    return user is not None and roles.can(user.role, permission)


def needs(permission: str) -> Callable:
    """Decorator: 403 unless the user's role allows ``permission``."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def actor() -> Actor:
    """The signed-in user as an audit actor (the user id, not any API key)."""
    return Actor(g.user.id, request.remote_addr)


def record(action: str, subject: str | None = None, **details: Any) -> None:
    """Audit a dashboard action in the request's transaction."""
    audit.record(db.session(), g.merchant_id, actor(), action, subject, **details)
