"""The merchant dashboard at /dashboard/: server-rendered pages behind a login, every form
with a CSRF token, every asset served by the app."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from gateway.web.dashboard import views  # noqa: F401  (attaches the views to the blueprint)
from gateway.web.dashboard.blueprint import PREFIX, bp
from gateway.web.dashboard.labels import label, units

log = logging.getLogger(__name__)

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Register the dashboard, its session cookie and CSRF protection (checked on the
    dashboard's own requests only: the API authenticates with keys, not cookies)."""
    gateway = app.config["GATEWAY"]
    settings = gateway["dashboard"]
    app.config.update(
        SESSION_COOKIE_NAME="gateway_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=gateway["server"]["base_url"].startswith("https://"),
        SESSION_COOKIE_PATH=PREFIX,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings["session_hours"]),
        WTF_CSRF_CHECK_DEFAULT=False,
        # the token lives as long as the session that holds it
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    app.extensions["dashboard.csrf"] = csrf
    if not app.config.get("SECRET_KEY"):
        log.warning("the dashboard is off: set [server] secret_key to sign its sessions")
    app.jinja_env.globals.update(label=label, units=units)
    app.register_blueprint(bp)
