"""Webhook endpoints (register, rotate secrets) and deliveries (inspect, redeliver)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from gateway.web import db
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema, ListArgs, page
from gateway.web.api.webhooks.schemas import (
    DeliveryDetailSchema,
    DeliveryListArgs,
    DeliveryListSchema,
    EndpointCreateSchema,
    EndpointListSchema,
    EndpointSchema,
    EndpointUpdateSchema,
    EndpointWithSecretSchema,
)
from gateway.web.auth import require
from gateway.web.errors import fail
from gateway.web.idempotency import run_once
from gateway.web.quotas import quota
from webhooks import endpoints
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.ssrf import TargetRefused

endpoints_blp = Blueprint(
    "webhook_endpoints", __name__, description="Webhook endpoints: where events are sent."
)
deliveries_blp = Blueprint(
    "webhook_deliveries", __name__, description="Webhook deliveries and their attempts."
)


def _settings() -> dict[str, Any]:
    return current_app.config["GATEWAY"]["webhooks"]


def _load_endpoint(endpoint_id: str, for_update: bool = False) -> WebhookEndpoint:
    # another merchant's endpoint is "not found", never "forbidden": ids must not leak
    query = sa.select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.merchant_id == g.merchant_id
    )
    endpoint = db.session().scalar(query.with_for_update() if for_update else query)
    if endpoint is None:
        fail(404, "webhook_endpoint_not_found", f"no webhook endpoint {endpoint_id}")
    return endpoint


def _load_delivery(delivery_id: str, for_update: bool = False) -> Delivery:
    query = sa.select(Delivery).where(
        Delivery.id == delivery_id, Delivery.merchant_id == g.merchant_id
    )
    if for_update:
        query = query.with_for_update()
    query = query.options(selectinload(Delivery.attempts))
    delivery = db.session().scalar(query)
    if delivery is None:
        fail(404, "webhook_delivery_not_found", f"no webhook delivery {delivery_id}")
    return delivery


def _refuse(exc: TargetRefused):
    fail(422, exc.code, f"url: {exc}", {"url": [str(exc)]})


@endpoints_blp.route("")
class Endpoints(MethodView):
    @require("webhooks:read")
    @endpoints_blp.arguments(ListArgs, location="query", unknown=ma.RAISE)
    @endpoints_blp.response(200, EndpointListSchema)
    @endpoints_blp.alt_response(
        401, schema=ApiErrorSchema, description="Missing or invalid API key"
    )
    def get(self, args: dict[str, Any]):
        """List webhook endpoints, newest first"""
        query = sa.select(WebhookEndpoint).where(WebhookEndpoint.merchant_id == g.merchant_id)
        return page(db.session(), query, WebhookEndpoint, args, g.merchant_id)

    @require("webhooks:write")
    @quota("webhook_endpoints")
    @endpoints_blp.arguments(EndpointCreateSchema)
    @endpoints_blp.response(201, EndpointWithSecretSchema)
    @endpoints_blp.alt_response(422, schema=ApiErrorSchema, description="Invalid input or URL")
    def post(self, body: dict[str, Any]):
        """Register a webhook endpoint

        The answer holds the signing `secret` (`whsec_...`): store it now, it is
        not shown again. Verify each request with any Standard Webhooks library.
        Send an `Idempotency-Key` header to retry safely.
        """
        session = db.session()
        body["event_types"] = list(dict.fromkeys(body["event_types"]))

        def create() -> tuple[WebhookEndpoint, int]:
            try:
                endpoint, _ = endpoints.create(
                    session, g.merchant_id, body, _settings()["allow_private_targets"]
                )
            except TargetRefused as exc:
                _refuse(exc)
            return endpoint, 201

        return run_once(
            session, g.merchant_id, EndpointWithSecretSchema(), create, secrets=("secret",)
        )


@endpoints_blp.route("/<string:endpoint_id>")
class EndpointById(MethodView):
    @require("webhooks:read")
    @endpoints_blp.response(200, EndpointSchema)
    @endpoints_blp.alt_response(404, schema=ApiErrorSchema, description="No such endpoint")
    def get(self, endpoint_id: str):
        """Get a webhook endpoint"""
        return _load_endpoint(endpoint_id)

    @require("webhooks:write")
    @endpoints_blp.arguments(EndpointUpdateSchema)
    @endpoints_blp.response(200, EndpointSchema)
    @endpoints_blp.alt_response(422, schema=ApiErrorSchema, description="Invalid input or URL")
    def patch(self, body: dict[str, Any], endpoint_id: str):
        """Update a webhook endpoint

        Change its URL, event types, description, or enable it again after it was
        disabled (for instance after it answered 410 Gone).
        """
        endpoint = _load_endpoint(endpoint_id, for_update=True)
        if "event_types" in body:
            body["event_types"] = list(dict.fromkeys(body["event_types"]))
        try:
            endpoints.update(endpoint, body, _settings()["allow_private_targets"])
        except TargetRefused as exc:
            _refuse(exc)
        db.session().commit()
        return endpoint

    @require("webhooks:write")
    @endpoints_blp.response(204)
    @endpoints_blp.alt_response(404, schema=ApiErrorSchema, description="No such endpoint")
    def delete(self, endpoint_id: str):
        """Delete a webhook endpoint and its delivery history"""
        session = db.session()
        endpoint = _load_endpoint(endpoint_id, for_update=True)
        session.execute(sa.delete(Delivery).where(Delivery.endpoint_id == endpoint.id))
        session.delete(endpoint)
        session.commit()


@endpoints_blp.route("/<string:endpoint_id>/rotate-secret")
class EndpointRotate(MethodView):
    @require("webhooks:write")
    @endpoints_blp.response(200, EndpointWithSecretSchema)
    @endpoints_blp.alt_response(404, schema=ApiErrorSchema, description="No such endpoint")
    def post(self, endpoint_id: str):
        """Rotate the signing secret

        The answer holds the new `secret`, shown this once. Until
        `previous_secret_expires_at` each request carries two signatures, one
        per secret, so receivers can switch without missing an event.
        """
        endpoint = _load_endpoint(endpoint_id, for_update=True)
        endpoints.rotate(endpoint, _settings()["rotation_overlap_hours"])
        db.session().commit()
        return endpoint


@deliveries_blp.route("")
class Deliveries(MethodView):
    @require("webhooks:read")
    @deliveries_blp.arguments(DeliveryListArgs, location="query", unknown=ma.RAISE)
    @deliveries_blp.response(200, DeliveryListSchema)
    @deliveries_blp.alt_response(
        401, schema=ApiErrorSchema, description="Missing or invalid API key"
    )
    def get(self, args: dict[str, Any]):
        """List webhook deliveries, newest first

        Filter by `endpoint_id`, `event_id` and `status` (pending, succeeded, failed).
        """
        query = sa.select(Delivery).where(Delivery.merchant_id == g.merchant_id)
        for name in ("endpoint_id", "event_id", "status"):
            if name in args:
                query = query.where(getattr(Delivery, name) == args[name])
        return page(db.session(), query, Delivery, args, g.merchant_id)


@deliveries_blp.route("/<string:delivery_id>")
class DeliveryById(MethodView):
    @require("webhooks:read")
    @deliveries_blp.response(200, DeliveryDetailSchema)
    @deliveries_blp.alt_response(404, schema=ApiErrorSchema, description="No such delivery")
    def get(self, delivery_id: str):
        """Get a webhook delivery with its attempts"""
        return _load_delivery(delivery_id)


@deliveries_blp.route("/<string:delivery_id>/redeliver")
class DeliveryRedeliver(MethodView):
    @require("webhooks:write")
    @deliveries_blp.response(202, DeliveryDetailSchema)
    @deliveries_blp.alt_response(409, schema=ApiErrorSchema, description="The endpoint is disabled")
    def post(self, delivery_id: str):
        """Send a delivery again

        The delivery goes back to `pending` with a fresh retry schedule and is
        sent by a worker within about a second, or as soon as an attempt already
        in flight has finished; the `webhook-id` stays the same.
        """
        session = db.session()
        delivery = _load_delivery(delivery_id, for_update=True)
        endpoint = _load_endpoint(delivery.endpoint_id)
        try:
            endpoints.redeliver(endpoint, delivery)
        except endpoints.EndpointDisabled as exc:
            fail(409, "webhook_endpoint_disabled", str(exc))
        session.commit()
        return delivery
