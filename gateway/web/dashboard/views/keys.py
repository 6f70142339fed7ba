"""API keys: create with scopes and an IP allow-list (shown once, after a step-up),
revoke, and when and from where each was last used."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from gateway.core.accounts import roles, users
from gateway.core.models import ApiKey, Merchant, utcnow
from gateway.web import auth, db
from gateway.web.dashboard import access
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.forms import ActionForm, KeyForm, options


def _form() -> KeyForm:
    form = KeyForm(prefix="key")
    form.scopes.choices = options([(scope, scope) for scope in auth.SCOPES])
    return form


def _page(form: KeyForm | None = None, plaintext: str | None = None, status: int = 200):
    keys = db.session().scalars(
        sa.select(ApiKey).where(ApiKey.merchant_id == g.merchant_id).order_by(ApiKey.created_at)
    )
    return render_template(
        "dashboard/keys.html",
        keys=list(keys)[::-1],
        form=form or _form(),
        plaintext=plaintext,
        action=ActionForm(),
    ), status


@bp.get("/keys")
def keys():
    """The merchant's API keys."""
    return _page()


@bp.post("/keys")
@access.needs(roles.KEYS)
def key_create():
    """A new key, shown this once; the password or a 2FA code is asked again."""
    form = _form()
    if form.validate_on_submit():
        session = db.session()
        networks = form.allowed_ips.data.split() if form.allowed_ips.data else []
        try:
            allowed = auth.parse_networks(networks)
        except ValueError:
            form.allowed_ips.errors.append(_("Each line must be an IP address or a network."))
            return _page(form, status=422)
        if not users.confirm(db.session(), g.user, form.confirm.data):
            session.commit()  # a TOTP step tried is spent
            form.confirm.errors.append(_("Wrong password or code."))
            return _page(form, status=422)
        merchant = session.get(Merchant, g.merchant_id)
        key, plaintext = auth.create_api_key(
            session, merchant, form.scopes.data, form.name.data or "", allowed
        )
        access.record("api_key.create", key.id, scopes=key.scopes, allowed_ips=allowed)
        session.commit()
        return _page(plaintext=plaintext)
    return _page(form, status=422)


@bp.post("/keys/<key_id>/revoke")
@access.needs(roles.KEYS)
def key_revoke(key_id: str):
    """Revoke a key: requests with it fail from now on."""
    session = db.session()
    key = session.scalar(
        sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.merchant_id == g.merchant_id)
    )
    if key is None:
        abort(404)
    if ActionForm().validate_on_submit() and key.revoked_at is None:
        key.revoked_at = utcnow()
        access.record("api_key.revoke", key.id)
        session.commit()
        flash(_("Key revoked."))
    return redirect(url_for("dashboard.keys"))


@bp.get("/keys/<key_id>")
def key(key_id: str):
    """One key (by URL: another merchant's is not found)."""
    found = db.session().scalar(
        sa.select(ApiKey).where(ApiKey.id == key_id, ApiKey.merchant_id == g.merchant_id)
    )
    if found is None:
        abort(404)
    return render_template("dashboard/key.html", key=found, action=ActionForm())
