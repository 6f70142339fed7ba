"""Webhooks: endpoints (create with the secret shown once, rotate, disable, ping) and the
delivery log with each attempt, and Redeliver."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from gateway.core.accounts import roles
from gateway.core.events import TYPES
from gateway.web import db
from gateway.web.dashboard import access, hooks
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.forms import ActionForm, EndpointForm, options
from webhooks import endpoints as endpoint_service
from webhooks.models import DeliveryStatus
from webhooks.ssrf import TargetRefused

PING_MESSAGE = "A test event sent from the dashboard"


def _settings() -> dict:
    return current_app.config["GATEWAY"]["webhooks"]


def _endpoint_form() -> EndpointForm:
    form = EndpointForm(prefix="new")
    form.event_types.choices = options([("*", _("every event"))] + [(t, t) for t in TYPES])
    return form


def _page(form: EndpointForm | None = None, secret: str | None = None, status: int = 200):
    session = db.session()
    endpoint_id = request.args.get("hook") or None
    state = request.args.get("status") or None
    if state not in (None, *[s.value for s in DeliveryStatus]):
        state = None
    return render_template(
        "dashboard/webhooks.html",
        endpoints=hooks.endpoints(session, g.merchant_id),
        form=form or _endpoint_form(),
        secret=secret,
        log=hooks.deliveries(session, g.merchant_id, endpoint_id=endpoint_id, status=state),
        action=ActionForm(),
        statuses=[s.value for s in DeliveryStatus],
    ), status


def _load(endpoint_id: str):
    found = hooks.endpoint(db.session(), g.merchant_id, endpoint_id)
    if found is None:
        abort(404)
    return found


@bp.get("/webhooks")
def webhooks():
    """Endpoints and the delivery log."""
    return _page()


@bp.post("/webhooks")
@access.needs(roles.WEBHOOKS)
def endpoint_create():
    """Register an endpoint; its signing secret is shown this once."""
    form = _endpoint_form()
    if form.validate_on_submit():
        fields = {
            "url": form.url.data.strip(),
            "event_types": list(dict.fromkeys(form.event_types.data)),
            "description": form.description.data or "",
        }
        session = db.session()
        try:
            made, secret = endpoint_service.create(
                session, g.merchant_id, fields, _settings()["allow_private_targets"]
            )
        except TargetRefused as exc:
            form.url.errors.append(_("This URL is refused: %(why)s", why=str(exc)))
        else:
            access.record("webhook_endpoint.create", made.id, url=made.url)
            session.commit()
            return _page(secret=secret)
    return _page(form=form, status=422)


@bp.post("/webhooks/<endpoint_id>/rotate")
@access.needs(roles.WEBHOOKS)
def endpoint_rotate(endpoint_id: str):
    """A new signing secret, shown this once; the old one signs beside it for a while."""
    found = _load(endpoint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    secret = endpoint_service.rotate(found, _settings()["rotation_overlap_hours"])
    access.record("webhook_endpoint.rotate", found.id)
    db.session().commit()
    return _page(secret=secret)


@bp.post("/webhooks/<endpoint_id>/enabled")
@access.needs(roles.WEBHOOKS)
def endpoint_toggle(endpoint_id: str):
    """Disable an endpoint, or enable it again."""
    found = _load(endpoint_id)
    if ActionForm().validate_on_submit():
        enable = not found.enabled
        endpoint_service.update(found, {"enabled": enable}, _settings()["allow_private_targets"])
        access.record("webhook_endpoint.enable" if enable else "webhook_endpoint.disable", found.id)
        db.session().commit()
        flash(_("Endpoint enabled.") if enable else _("Endpoint disabled."))
    return redirect(url_for("dashboard.webhooks"))


@bp.post("/webhooks/<endpoint_id>/ping")
@access.needs(roles.WEBHOOKS)
def endpoint_ping(endpoint_id: str):
    """Send a ``ping`` event to this endpoint now."""
    found = _load(endpoint_id)
    if ActionForm().validate_on_submit():
        if not found.enabled:
            flash(_("Enable the endpoint first."))
        else:
            sent = hooks.ping(db.session(), found, PING_MESSAGE)
            access.record("webhook_endpoint.ping", found.id, delivery=sent.id)
            db.session().commit()
            flash(_("A ping is on its way."))
            return redirect(url_for("dashboard.delivery", delivery_id=sent.id))
    return redirect(url_for("dashboard.webhooks"))


@bp.get("/deliveries/<delivery_id>")
def delivery(delivery_id: str):
    """One delivery: its event and every attempt (status, latency, response excerpt)."""
    session = db.session()
    found = hooks.delivery(session, g.merchant_id, delivery_id)
    if found is None:
        abort(404)
    rows = hooks.deliveries(session, g.merchant_id, [found.event_id], found.endpoint_id)
    event = rows[0][1] if rows else None
    return render_template(
        "dashboard/delivery.html",
        delivery=found,
        event=event,
        endpoint=hooks.endpoint(session, g.merchant_id, found.endpoint_id),
        action=ActionForm(),
    )


@bp.post("/deliveries/<delivery_id>/redeliver")
@access.needs(roles.WEBHOOKS)
def redeliver(delivery_id: str):
    """Send a delivery again; a worker picks it up within about a second."""
    session = db.session()
    found = hooks.delivery(session, g.merchant_id, delivery_id)
    if found is None:
        abort(404)
    if ActionForm().validate_on_submit():
        target = hooks.endpoint(session, g.merchant_id, found.endpoint_id)
        try:
            endpoint_service.redeliver(target, found)
        except endpoint_service.EndpointDisabled:
            flash(_("Enable the endpoint first."))
        else:
            access.record("webhook_delivery.redeliver", found.id)
            session.commit()
            flash(_("Sent again: the new attempt appears here in a moment."))
    back = request.form.get("back", "")
    if back.startswith("/dashboard/") and not back.startswith("//"):
        return redirect(back)
    return redirect(url_for("dashboard.delivery", delivery_id=delivery_id))
