"""Orders: the filtered list with cursor paging, one order's payments, events and webhook
deliveries, cancelling, and test orders on a devnet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from gateway.core import orders as order_service
from gateway.core.accounts import roles
from gateway.core.accounts import settings as merchant_settings
from gateway.core.addresses import AddressCollision, NoXpub
from gateway.core.models import OrderStatus
from gateway.core.money import to_base_units
from gateway.core.reports import orders as report
from gateway.web import db
from gateway.web.chains import drivers
from gateway.web.dashboard import access, hooks
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.forms import ActionForm, TestOrderForm, options
from gateway.web.dashboard.labels import label
from plugins.base import DriverError


class OrderFilterForm(FlaskForm):
    """The list's filters: a GET form, nothing to protect."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=[], validators=[Optional()])
    chain = SelectField(_l("Chain"), choices=[], validators=[Optional()])
    q = StringField(_l("Reference, order id or address"), validators=[Optional(), Length(max=200)])
    created_from = DateField(_l("Created from"), validators=[Optional()])
    created_to = DateField(_l("Created until"), validators=[Optional()])


def _filter_form() -> OrderFilterForm:
    form = OrderFilterForm(request.args)
    form.status.choices = options(
        [("", _("any"))] + [(s.value, label(s.value)) for s in OrderStatus]
    )
    form.chain.choices = options([("", _("any"))] + [(c, c) for c in sorted(drivers())])
    return form


def _test_form() -> TestOrderForm:
    form = TestOrderForm()
    allowed = current_app.config["GATEWAY"]["dashboard"]["test_order_chains"]
    form.chain.choices = options([(c, c) for c in sorted(drivers()) if c in allowed])
    return form


def _day_start(day) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


@bp.get("/orders")
def orders():
    """The merchant's orders, newest first."""
    form = _filter_form()
    found, next_cursor = [], None
    if form.validate():
        until = _day_start(form.created_to.data)
        where = report.OrderFilter(
            status=form.status.data or "",
            chain=form.chain.data or "",
            search=form.q.data or "",
            created_from=_day_start(form.created_from.data),
            created_to=None if until is None else until + timedelta(days=1),
        )
        found, next_cursor = report.search(
            db.session(), g.merchant_id, where, request.args.get("after")
        )
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    test_form = _test_form()
    return render_template(
        "dashboard/orders.html",
        form=form,
        orders=found,
        next_url=url_for("dashboard.orders", after=next_cursor, **args) if next_cursor else None,
        test_form=test_form if test_form.chain.choices else None,
    )


@bp.get("/orders/<order_id>")
def order(order_id: str):
    """One order: its payments with explorer links, its events and its deliveries."""
    session = db.session()
    found = report.load(session, g.merchant_id, order_id)
    if found is None:
        abort(404)
    timeline = report.events(session, found)
    explorer = current_app.config["GATEWAY"]["dashboard"]["explorers"].get(found.chain)
    return render_template(
        "dashboard/order.html",
        order=found,
        events=timeline,
        deliveries=hooks.deliveries(session, g.merchant_id, [e.id for e in timeline]),
        explorer=explorer,
        cancellable=found.status == OrderStatus.PENDING and not found.amount_seen,
        action=ActionForm(),
    )


@bp.post("/orders/<order_id>/cancel")
@access.needs(roles.ORDERS)
def order_cancel(order_id: str):
    """Cancel an order nobody paid into yet."""
    session = db.session()
    found = report.load(session, g.merchant_id, order_id)
    if found is None:
        abort(404)
    if ActionForm().validate_on_submit():
        try:
            order_service.cancel(session, found)
        except order_service.InvalidState:
            flash(_("This order cannot be cancelled: it is not pending, or money arrived."))
        else:
            access.record("order.cancel", found.id)
            session.commit()
            flash(_("Order cancelled."))
    return redirect(url_for("dashboard.order", order_id=order_id))


@bp.post("/orders/test")
@access.needs(roles.ORDERS)
def order_test():
    """A test order on a devnet, to try the checkout and the webhooks."""
    form = _test_form()
    if not form.chain.choices:
        abort(404)
    if form.validate_on_submit():
        made = _create_test_order(form)
        if made is not None:
            return redirect(url_for("dashboard.order", order_id=made))
    return render_template(
        "dashboard/orders.html",
        form=_filter_form(),
        orders=[],
        next_url=None,
        test_form=form,
        test_open=True,
    ), 422


def _create_test_order(form: TestOrderForm) -> str | None:
    session = db.session()
    driver = drivers()[form.chain.data]
    config = current_app.config["GATEWAY"]["orders"]
    try:
        amount = to_base_units(form.amount.data.strip(), driver.decimals())
    except ValueError as exc:
        form.amount.errors.append(_("Not an amount: %(why)s", why=str(exc)))
        return None
    except DriverError:
        form.chain.errors.append(_("The node of this chain cannot be reached."))
        return None
    if amount <= 0:
        form.amount.errors.append(_("Must be greater than zero."))
        return None
    minutes = merchant_settings.of(session, g.merchant_id).order_expiry_minutes
    expires = datetime.now(UTC) + timedelta(minutes=minutes or config["default_expiry_minutes"])
    new = order_service.NewOrder(form.chain.data, amount, form.reference.data, {}, expires)
    try:
        made = order_service.create(session, g.merchant_id, driver, new)
    except NoXpub:
        session.rollback()
        form.chain.errors.append(_("Register an xpub for this chain first (Settings)."))
        return None
    except (DriverError, AddressCollision):
        session.rollback()
        form.chain.errors.append(_("The node of this chain cannot be reached."))
        return None
    access.record("order.test_created", made.id, chain=made.chain)
    session.commit()
    flash(_("Test order created."))
    return made.id
