"""Settings: xpubs per chain family (the first addresses are shown with their paths before
anything is saved), order defaults, checkout branding and the 2FA policy."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway.core import addresses
from gateway.core.accounts import roles, users, xpubs
from gateway.core.accounts import settings as merchant_settings
from gateway.core.models import HdAccount
from gateway.web import db
from gateway.web.chains import drivers
from gateway.web.dashboard import access
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.forms import (
    BrandingForm,
    OrderDefaultsForm,
    TwoFactorPolicyForm,
    XpubForm,
    options,
)


def _xpub_form() -> XpubForm:
    form = XpubForm(prefix="xpub")
    pairs = [(name, f"{name} ({driver.family})") for name, driver in sorted(drivers().items())]
    form.chain.choices = options(pairs)
    return form


def _page(status: int = 200, **given):
    session = db.session()
    stored = merchant_settings.of(session, g.merchant_id)
    accounts = session.scalars(sa.select(HdAccount).where(HdAccount.merchant_id == g.merchant_id))
    families: dict[str, list[str]] = {}
    for name, driver in sorted(drivers().items()):
        families.setdefault(driver.family, []).append(name)
    orders_form = given.pop("orders_form", None) or OrderDefaultsForm(
        prefix="orders", data={"expiry": stored.order_expiry_minutes}
    )
    branding_form = given.pop("branding_form", None) or BrandingForm(
        prefix="brand",
        data={
            "brand_name": stored.brand_name,
            "logo_url": stored.logo_url,
            "return_url": stored.return_url,
        },
    )
    policy_form = given.pop("policy_form", None) or TwoFactorPolicyForm(
        prefix="policy", data={"required": stored.require_2fa}
    )
    return render_template(
        "dashboard/settings.html",
        accounts={a.family: a for a in accounts},
        families=families,
        xpub_form=given.pop("xpub_form", None) or _xpub_form(),
        preview=given.pop("preview", None),
        orders_form=orders_form,
        branding_form=branding_form,
        policy_form=policy_form,
        default_expiry=current_app.config["GATEWAY"]["orders"]["default_expiry_minutes"],
    ), status


@bp.get("/settings")
def settings():
    """Every setting of the merchant."""
    return _page()


@bp.post("/settings/xpub")
@access.needs(roles.SETTINGS)
def xpub():
    """Preview an xpub's first addresses, then save it after a step-up."""
    form = _xpub_form()
    if not form.validate_on_submit():
        return _page(422, xpub_form=form)
    driver = drivers()[form.chain.data]
    try:
        derived = xpubs.preview(driver, form.xpub.data)
    except xpubs.XpubRefused as exc:
        form.xpub.data = ""  # a private key pasted by mistake is never sent back
        form.xpub.errors.append(str(exc))
        return _page(422, xpub_form=form)
    if request.form.get("action") != "save":
        return _page(xpub_form=form, preview=derived)
    session = db.session()
    if not users.confirm(db.session(), g.user, form.confirm.data or ""):
        session.commit()
        form.confirm.errors.append(_("Wrong password or code."))
        return _page(422, xpub_form=form, preview=derived)
    try:
        account = addresses.register_xpub(session, g.merchant_id, driver, form.xpub.data)
    except ValueError as exc:
        session.rollback()
        form.xpub.errors.append(str(exc))
        return _page(422, xpub_form=form, preview=derived)
    access.record("xpub.set", str(account.id), family=driver.family, first=derived[0].address)
    session.commit()
    flash(_("The xpub for %(family)s is saved.", family=driver.family))
    return redirect(url_for("dashboard.settings"))


@bp.post("/settings/orders")
@access.needs(roles.SETTINGS)
def settings_orders():
    """The default expiry of new orders."""
    form = OrderDefaultsForm(prefix="orders")
    if form.validate_on_submit():
        most = current_app.config["GATEWAY"]["orders"]["max_expiry_minutes"]
        try:
            merchant_settings.update_orders(db.session(), g.merchant_id, form.expiry.data, most)
        except merchant_settings.BadSetting:
            form.expiry.errors.append(_("Between 1 and %(most)d minutes.", most=most))
        else:
            access.record("settings.orders", expiry_minutes=form.expiry.data)
            db.session().commit()
            flash(_("Saved."))
            return redirect(url_for("dashboard.settings"))
    return _page(422, orders_form=form)


@bp.post("/settings/branding")
@access.needs(roles.SETTINGS)
def settings_branding():
    """The checkout page's shop name, logo and return link."""
    form = BrandingForm(prefix="brand")
    if form.validate_on_submit():
        try:
            merchant_settings.update_branding(
                db.session(),
                g.merchant_id,
                form.brand_name.data or "",
                form.logo_url.data or "",
                form.return_url.data or "",
            )
        except merchant_settings.BadSetting as exc:
            getattr(form, exc.field).errors.append(_("Must be an http:// or https:// URL."))
        else:
            access.record("settings.branding")
            db.session().commit()
            flash(_("Saved."))
            return redirect(url_for("dashboard.settings"))
    return _page(422, branding_form=form)


@bp.post("/settings/two-factor")
@access.needs(roles.SETTINGS)
def settings_2fa():
    """Require two-factor authentication of every user (they enrol at their next page)."""
    form = TwoFactorPolicyForm(prefix="policy")
    if form.validate_on_submit():
        if form.required.data and not g.user.has_totp:
            form.required.errors.append(_("Turn on two-factor authentication for yourself first."))
            return _page(422, policy_form=form)
        merchant_settings.require_2fa(db.session(), g.merchant_id, form.required.data)
        access.record("settings.require_2fa", required=form.required.data)
        db.session().commit()
        flash(_("Saved."))
        return redirect(url_for("dashboard.settings"))
    return _page(422, policy_form=form)
