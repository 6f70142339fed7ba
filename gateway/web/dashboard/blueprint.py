"""The dashboard's blueprint: who is signed in, what every answer carries, and error pages
in the dashboard's own look (never a stack trace)."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from gateway.web.dashboard import access

log = logging.getLogger(__name__)

PREFIX = "/dashboard"

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix=PREFIX,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# pages reachable without a session
PUBLIC = {
    "dashboard.static",
    "dashboard.login",
    "dashboard.login_code",
    "dashboard.invite",
    "dashboard.reset",
}
# pages a user who must enrol 2FA first may still open
ENROLMENT = {"dashboard.security", "dashboard.totp_enrol", "dashboard.logout"}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@bp.before_request
def _before():
    if not current_app.config.get("SECRET_KEY"):
        return _page(503, _("Dashboard unavailable"), _("Set [server] secret_key to use it."))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        current_app.extensions["dashboard.csrf"].protect()
    if request.endpoint in PUBLIC:
        return None
    if not access.load_user():
        session.pop("token", None)
        return redirect(url_for("dashboard.login", next=request.full_path))
    if access.must_enrol() and request.endpoint not in ENROLMENT:
        return redirect(url_for("dashboard.security"))
    return None


@bp.after_request
def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if response.mimetype not in ("text/css", "text/javascript", "image/svg+xml"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _helpers():
    return {"can": access.can, "user": g.get("user"), "merchant_name": g.get("merchant_name")}


@bp.errorhandler(CSRFError)
def _csrf(exc: CSRFError):
    return _page(400, _("Form expired"), _("Reload the page and send the form again."))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    status = exc.code or 500
    words = {
        403: (_("Not allowed"), _("Your role does not allow this.")),
        404: (_("Not found"), _("There is nothing here, or it belongs to another merchant.")),
        405: (_("Not allowed"), _("This page cannot be used like that.")),
        413: (_("Too large"), _("What you sent is too large.")),
        429: (_("Too many attempts"), _("Wait a moment and try again.")),
    }
    headline, detail = words.get(status, (_("Something went wrong"), _("Try again.")))
    return _page(status, headline, detail)


@bp.errorhandler(Exception)
def _crash(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http(exc)
    log.exception("dashboard page failed")
    return _page(500, _("Something went wrong"), _("The error was logged. Try again later."))


def _page(status: int, headline: str, detail: str):
    return render_template("dashboard/error.html", headline=headline, detail=detail), status
