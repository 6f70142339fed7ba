"""HTTPS in production: HSTS, secure cookies (the refusal of an http base_url is in config)."""

from __future__ import annotations

from flask import Flask, Response

HSTS = "max-age=63072000; includeSubDomains"  # two years, as hstspreload.org asks


def init_app(app: Flask) -> None:
    """When the gateway is public over https (or told it is production), say so to browsers."""
    server = app.config["GATEWAY"]["server"]
    if not (server["production"] or server["base_url"].startswith("https://")):
        return
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=True,
        PREFERRED_URL_SCHEME="https",
    )
    app.after_request(_hsts)


def _hsts(response: Response) -> Response:
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
