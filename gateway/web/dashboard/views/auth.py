"""Signing in (password, then a TOTP or recovery code), out, and the one-time links that
set a password: invitations and resets."""

from __future__ import annotations

import time

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from gateway.core import audit
from gateway.core.accounts import sessions, users
from gateway.core.accounts.models import User
from gateway.core.audit import Actor
from gateway.web import db
from gateway.web.dashboard.blueprint import PREFIX, bp
from gateway.web.dashboard.forms import (
    ActionForm,
    CodeForm,
    InviteAcceptForm,
    LoginForm,
    NewPasswordForm,
)

PENDING_SECONDS = 300  # between the password and the second factor


def _settings() -> dict:
    return current_app.config["GATEWAY"]["dashboard"]


def _next_url() -> str:
    # only a path of the dashboard itself: never an open redirect
    target = request.args.get("next", "")
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.overview")


def _too_many(form, wait: int) -> tuple[str, int]:
    form.form_errors.append(_("Too many attempts. Try again in %(seconds)d s.", seconds=wait))
    return render_template("dashboard/login.html", form=form), 429


def _sign_in(user: User) -> Response:
    from datetime import timedelta

    database = db.session()
    lifetime = timedelta(hours=_settings()["session_hours"])
    agent = request.headers.get("User-Agent", "")
    token = sessions.open_session(database, user, request.remote_addr, agent, lifetime)
    users.signed_in(user, request.remote_addr)
    audit.record(database, user.merchant_id, Actor(user.id, request.remote_addr), "user.login")
    database.commit()
    target = _next_url()
    session.clear()  # a fresh session (and CSRF token) after the login: no fixation
    session["token"] = token
    session.permanent = True
    return redirect(target)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The email and password form."""
    form = LoginForm()
    if form.validate_on_submit():
        database = db.session()
        result = users.login(database, form.email.data, form.password.data, request.remote_addr)
        database.commit()  # failures are counted even though the login fails
        if result.wait:
            return _too_many(form, result.wait)
        if result.user is None:
            form.form_errors.append(_("Wrong email or password."))
        elif result.user.has_totp:
            session.clear()
            session["pending"] = {"user": result.user.id, "at": int(time.time())}
            return redirect(url_for("dashboard.login_code", next=request.args.get("next")))
        else:
            return _sign_in(result.user)
    return render_template("dashboard/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second factor of a login whose password matched."""
    pending = session.get("pending") or {}
    user = db.session().get(User, pending.get("user", ""))
    if user is None or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop("pending", None)
        return redirect(url_for("dashboard.login"))
    form = CodeForm()
    if form.validate_on_submit():
        database = db.session()
        result = users.second_factor(database, user, form.code.data, request.remote_addr)
        database.commit()
        if result.wait:
            form.form_errors.append(
                _("Too many attempts. Try again in %(seconds)d s.", seconds=result.wait)
            )
            return render_template("dashboard/code.html", form=form), 429
        if result.user is None:
            form.code.errors.append(_("This code is not valid, or was used already."))
        else:
            return _sign_in(user)
    return render_template("dashboard/code.html", form=form)


@bp.post("/logout")
def logout():
    """End the session for good: the cookie is worthless afterwards."""
    if ActionForm().validate_on_submit():
        database = db.session()
        sessions.revoke(database, session.get("token", ""))
        audit.record(database, g.merchant_id, Actor(g.user.id, request.remote_addr), "user.logout")
        database.commit()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("dashboard.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str):
    """Join a merchant from an invitation: choose a name and a password."""
    max_age = _settings()["invite_hours"] * 3600
    secret = current_app.config["SECRET_KEY"]
    try:
        payload = users.read_token(secret, users.INVITE, token, max_age)
    except users.AccountError as exc:
        return render_template("dashboard/link.html", problem=_link_problem(exc)), 400
    form = InviteAcceptForm()
    if form.validate_on_submit():
        database = db.session()
        try:
            user = users.accept_invite(database, payload, form.password.data, form.name.data)
        except users.AccountError as exc:
            database.rollback()
            return render_template("dashboard/link.html", problem=_link_problem(exc)), 400
        actor = Actor(payload["by"], request.remote_addr)
        audit.record(database, user.merchant_id, actor, "user.invite_accepted", user.id)
        database.commit()
        flash(_("Your account is ready. Sign in."))
        return redirect(url_for("dashboard.login"))
    return render_template("dashboard/invite.html", form=form, email=payload["e"])


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Set a new password from a reset link; every session of the user ends."""
    max_age = _settings()["reset_minutes"] * 60
    try:
        payload = users.read_token(current_app.config["SECRET_KEY"], users.RESET, token, max_age)
    except users.AccountError as exc:
        return render_template("dashboard/link.html", problem=_link_problem(exc)), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        database = db.session()
        try:
            user = users.reset_password(database, payload, form.password.data)
        except users.AccountError as exc:
            database.rollback()
            return render_template("dashboard/link.html", problem=_link_problem(exc)), 400
        sessions.revoke_all(database, user.id)
        actor = Actor(user.id, request.remote_addr)
        audit.record(database, user.merchant_id, actor, "user.password_reset", user.id)
        database.commit()
        flash(_("Your password is changed. Sign in."))
        return redirect(url_for("dashboard.login"))
    return render_template("dashboard/reset.html", form=form)


def _link_problem(exc: users.AccountError) -> str:
    text = str(exc)
    if "expired" in text:
        return _("This link has expired. Ask for a new one.")
    if "used" in text:
        return _("This link has been used already.")
    if "exists" in text:
        return _("A user with this email exists already.")
    return _("This link is not valid.")
