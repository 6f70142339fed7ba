"""The audit log: who did what, from which IP address, filterable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional

from gateway.core.accounts.models import User
from gateway.core.audit import AuditEntry
from gateway.web import db
from gateway.web.dashboard.blueprint import bp

SHOWN = 100


class AuditFilterForm(FlaskForm):
    """Filters of the log: a GET form."""

    class Meta:
        csrf = False

    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    actor = StringField(_l("Who (user, key id or email)"), validators=[Optional(), Length(max=254)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])


@bp.get("/audit")
def audit():
    """The newest entries matching the filters."""
    form = AuditFilterForm(request.args)
    session = db.session()
    entries = []
    if form.validate():
        query = sa.select(AuditEntry).where(AuditEntry.merchant_id == g.merchant_id)
        if form.action.data:
            query = query.where(AuditEntry.action.startswith(form.action.data.strip()))
        if form.actor.data:
            who = form.actor.data.strip()
            by_email = session.scalar(
                sa.select(User.id).where(
                    User.email == who.lower(), User.merchant_id == g.merchant_id
                )
            )
            query = query.where(AuditEntry.actor == (by_email or who))
        if form.since.data:
            query = query.where(AuditEntry.created_at >= _start(form.since.data))
        if form.until.data:
            query = query.where(AuditEntry.created_at < _start(form.until.data) + timedelta(1))
        entries = list(session.scalars(query.order_by(AuditEntry.seq.desc()).limit(SHOWN)))
    query = sa.select(User.id, User.email).where(User.merchant_id == g.merchant_id)
    names = {row.id: row.email for row in session.execute(query)}
    return render_template("dashboard/audit.html", form=form, entries=entries, names=names)


def _start(day) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
