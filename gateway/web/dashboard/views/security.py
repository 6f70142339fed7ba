"""The user's own security: enrol TOTP (QR code), recovery codes, password, 2FA off."""

from __future__ import annotations

import segno
from flask import flash, g, redirect, render_template, session, url_for
from flask_babel import gettext as _

from gateway.core.accounts import sessions, totp, users
from gateway.core.accounts import settings as merchant_settings
from gateway.web import db
from gateway.web.dashboard import access
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.forms import ConfirmForm, EnrolForm, NewPasswordForm

ISSUER = "USDT Gateway"


class PasswordChangeForm(NewPasswordForm, ConfirmForm):
    """A new password, confirmed with the current one (or a 2FA code)."""


def _qr(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(
        scale=4, border=2, omitsize=False, svgclass="qr", title=_("QR code to scan")
    )


@bp.get("/security")
def security():
    """2FA state, enrolment and the password form."""
    return _render()


def _render(codes: list[str] | None = None, **forms):
    user = g.user
    enrol = forms.get("enrol") or EnrolForm()
    secret = uri = qr = None
    if not user.has_totp:
        # the secret waits in the (signed) session until a code proves the app holds it
        secret = session.get("enrol_secret") or totp.new_secret()
        session["enrol_secret"] = secret
        uri = totp.provisioning_uri(secret, user.email, g.merchant_name or ISSUER)
        qr = _qr(uri)
    required = merchant_settings.of(db.session(), g.merchant_id).require_2fa
    return render_template(
        "dashboard/security.html",
        enrol=enrol,
        secret=secret,
        qr=qr,
        codes=codes,
        required=required,
        password_form=forms.get("password") or PasswordChangeForm(prefix="pw"),
        confirm_form=forms.get("confirm") or ConfirmForm(prefix="c"),
    )


@bp.post("/security/totp")
def totp_enrol():
    """Turn 2FA on with the first code; the recovery codes are shown this once."""
    form = EnrolForm()
    secret = session.get("enrol_secret")
    if g.user.has_totp or not secret:
        return redirect(url_for("dashboard.security"))
    if form.validate_on_submit():
        codes = totp.enable(g.user, secret, form.code.data)
        if codes is not None:
            access.record("user.totp_enabled", g.user.id)
            db.session().commit()
            session.pop("enrol_secret", None)
            return _render(codes=codes)
        form.code.errors.append(_("This code does not match. Check the clock of your phone."))
    return _render(enrol=form), 422


@bp.post("/security/recovery-codes")
def recovery_codes():
    """New recovery codes (the old ones stop working), after a step-up."""
    form = ConfirmForm(prefix="c")
    if form.validate_on_submit() and g.user.has_totp:
        if users.confirm(db.session(), g.user, form.confirm.data):
            codes = totp.new_recovery_codes(g.user)
            access.record("user.recovery_codes", g.user.id)
            db.session().commit()
            return _render(codes=codes)
        db.session().commit()
        form.confirm.errors.append(_("Wrong password or code."))
    return _render(confirm=form), 422


@bp.post("/security/totp/off")
def totp_off():
    """Turn 2FA off, unless the merchant requires it."""
    form = ConfirmForm(prefix="c")
    if merchant_settings.of(db.session(), g.merchant_id).require_2fa:
        form.form_errors.append(_("Your merchant requires two-factor authentication."))
    elif form.validate_on_submit():
        if users.confirm(db.session(), g.user, form.confirm.data):
            totp.disable(g.user)
            access.record("user.totp_disabled", g.user.id)
            db.session().commit()
            flash(_("Two-factor authentication is off."))
            return redirect(url_for("dashboard.security"))
        db.session().commit()  # the failure counts against the account
        form.confirm.errors.append(_("Wrong password or code."))
    return _render(confirm=form), 422


@bp.post("/security/password")
def password_change():
    """A new password; every other session of the user ends."""
    form = PasswordChangeForm(prefix="pw")
    if form.validate_on_submit():
        if users.confirm(db.session(), g.user, form.confirm.data):
            try:
                users.change_password(db.session(), g.user, form.password.data)
            except users.AccountError as exc:
                form.password.errors.append(str(exc))
            else:
                sessions.revoke_all(db.session(), g.user.id, keep=session.get("token"))
                access.record("user.password_changed", g.user.id)
                db.session().commit()
                flash(_("Your password is changed."))
                return redirect(url_for("dashboard.security"))
        else:
            db.session().commit()  # the failure counts against the account
            form.confirm.errors.append(_("Wrong password or code."))
    return _render(password=form), 422
