"""The merchant's users: invite by a one-time link that expires, change roles, remove,
and make password-reset links."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from gateway.core.accounts import roles, sessions, users
from gateway.core.accounts.models import User
from gateway.web import db
from gateway.web.dashboard import access
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.forms import ActionForm, InviteForm, RoleForm


def _page(form: InviteForm | None = None, link: str | None = None, status: int = 200):
    members = users.of_merchant(db.session(), g.merchant_id)
    role_forms = {u.id: RoleForm(prefix=u.id, data={"role": u.role}) for u in members}
    return render_template(
        "dashboard/team.html",
        members=members,
        form=form or InviteForm(prefix="invite"),
        role_forms=role_forms,
        link=link,
        action=ActionForm(),
        invite_hours=current_app.config["GATEWAY"]["dashboard"]["invite_hours"],
    ), status


def _member(user_id: str) -> User:
    found = db.session().get(User, user_id)
    if found is None or found.merchant_id != g.merchant_id:
        abort(404)
    return found


def _base() -> str:
    return current_app.config["GATEWAY"]["server"]["base_url"].rstrip("/")


@bp.get("/team")
def team():
    """Users of the merchant."""
    return _page()


@bp.post("/team")
@access.needs(roles.USERS)
def team_invite():
    """An invitation link to send to the new user (good once, until it expires)."""
    form = InviteForm(prefix="invite")
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if users.by_email(db.session(), email) is not None:
            form.email.errors.append(_("A user with this email exists already."))
            return _page(form, status=422)
        secret = current_app.config["SECRET_KEY"]
        token = users.make_invite(secret, g.merchant_id, email, form.role.data, g.user.id)
        access.record("user.invite", None, email=email, role=form.role.data)
        db.session().commit()
        return _page(link=f"{_base()}{url_for('dashboard.invite', token=token)}")
    return _page(form, status=422)


@bp.post("/team/<user_id>/role")
@access.needs(roles.USERS)
def team_role(user_id: str):
    """Change a user's role."""
    member = _member(user_id)
    form = RoleForm(prefix=user_id)
    if form.validate_on_submit():
        try:
            users.set_role(db.session(), member, form.role.data)
        except users.AccountError:
            flash(_("The last owner must stay an owner."))
        else:
            access.record("user.role", member.id, role=form.role.data)
            db.session().commit()
            flash(_("Role changed."))
    return redirect(url_for("dashboard.team"))


@bp.post("/team/<user_id>/remove")
@access.needs(roles.USERS)
def team_remove(user_id: str):
    """Stop a user from signing in, and end their sessions."""
    member = _member(user_id)
    if ActionForm().validate_on_submit():
        try:
            users.disable(db.session(), member)
        except users.AccountError:
            flash(_("The last owner cannot be removed."))
        else:
            sessions.revoke_all(db.session(), member.id)
            access.record("user.remove", member.id)
            db.session().commit()
            flash(_("User removed."))
    return redirect(url_for("dashboard.team"))


@bp.post("/team/<user_id>/reset")
@access.needs(roles.USERS)
def team_reset(user_id: str):
    """A password-reset link for a user (good once, until it expires)."""
    member = _member(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    token = users.make_reset(current_app.config["SECRET_KEY"], member)
    access.record("user.reset_link", member.id)
    db.session().commit()
    return _page(link=f"{_base()}{url_for('dashboard.reset', token=token)}")
