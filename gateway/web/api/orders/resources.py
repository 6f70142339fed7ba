"""The orders resource: create, read, list and cancel."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g
from flask.views import MethodView

from gateway.core import orders
from gateway.core.accounts import settings as merchant_settings
from gateway.core.addresses import AddressCollision, NoXpub
from gateway.core.models import Order, utcnow
from gateway.core.schemas import ORDER
from gateway.web import db
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema, page
from gateway.web.api.orders.input import parse_new_order
from gateway.web.api.orders.schemas import (
    OrderCreateSchema,
    OrderListArgs,
    OrderListSchema,
    OrderSchema,
    PaymentListSchema,
)
from gateway.web.auth import require
from gateway.web.errors import fail
from gateway.web.etags import conditional
from gateway.web.idempotency import run_once
from gateway.web.quotas import quota
from plugins.base import DriverError

blp = Blueprint("orders", __name__, description="Orders: what a buyer has to pay, and where.")


def _load(order_id: str, for_update: bool = False) -> Order:
    # another merchant's order is "not found", never "forbidden": ids must not leak
    query = sa.select(Order).where(Order.id == order_id, Order.merchant_id == g.merchant_id)
    order = db.session().scalar(query.with_for_update() if for_update else query)
    if order is None:
        fail(404, "order_not_found", f"no order {order_id}")
    return order


@blp.route("")
class Orders(MethodView):
    @require("orders:read")
    @blp.arguments(OrderListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, OrderListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self, args: dict[str, Any]):
        """List orders, newest first

        Filter by status, chain, reference and creation time; page with
        `starting_after` (the last id you got) while `has_more` is true.
        """
        query = sa.select(Order).where(Order.merchant_id == g.merchant_id)
        for name in ("status", "chain", "reference"):
            if name in args:
                query = query.where(getattr(Order, name) == args[name])
        if "created_gte" in args:
            query = query.where(Order.created_at >= args["created_gte"])
        if "created_lt" in args:
            query = query.where(Order.created_at < args["created_lt"])
        return page(db.session(), query, Order, args, g.merchant_id)

    @require("orders:write")
    @quota("orders")
    # an instance: given the class, webargs would build (deep-copy) a schema per request
    @blp.arguments(OrderCreateSchema())
    @blp.response(201, OrderSchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="Invalid input")
    @blp.alt_response(
        409,
        schema=ApiErrorSchema,
        description="No xpub registered for the chain (`xpub_missing`), or the deposit address"
        " was taken by a concurrent order (`address_collision`: retry)",
    )
    def post(self, body: dict[str, Any]):
        """Create an order

        Answers with a fresh deposit address used by this order only, the exact
        amount to pay and a payment URI. Send an `Idempotency-Key` header to
        retry safely: the same key and body return the first answer.
        """
        session = db.session()
        driver, new = parse_new_order(body, current_app.config["GATEWAY"]["orders"])
        if "expires_in" not in body:
            # the merchant's own default (set in the dashboard) before the configuration's;
            # asked after the node call above, which must not hold a database transaction
            own = merchant_settings.order_expiry_minutes(session, g.merchant_id)
            if own:
                new = replace(new, expires_at=utcnow() + timedelta(minutes=own))

        def create() -> tuple[dict[str, Any], int]:
            try:
                order = orders.create(session, g.merchant_id, driver, new)
            except NoXpub:
                fail(
                    409,
                    "xpub_missing",
                    f"register an xpub for {driver.family} chains first (gateway merchant xpub)",
                )
            except AddressCollision:
                fail(
                    409,
                    "address_collision",
                    "the deposit address derived for this order is already in use; retry,"
                    " and the next address will be used",
                )
            except DriverError:
                fail(
                    503,
                    "chain_unavailable",
                    f"the {driver.name} node cannot be reached; retry later",
                )
            return order, 201

        return run_once(session, g.merchant_id, ORDER, create)


@blp.route("/<string:order_id>")
class OrderById(MethodView):
    @require("orders:read")
    @blp.response(200, OrderSchema)
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such order")
    @blp.alt_response(304, description="Unchanged since the ETag sent in If-None-Match")
    def get(self, order_id: str):
        """Get an order

        The answer has an `ETag`; send it back in `If-None-Match` and an unchanged
        order answers `304 Not Modified` with no body.
        """
        return conditional(ORDER.dump(_load(order_id)))


@blp.route("/<string:order_id>/payments")
class OrderPayments(MethodView):
    @require("orders:read")
    @blp.response(200, PaymentListSchema)
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such order")
    def get(self, order_id: str):
        """List an order's payments, oldest first

        Every transfer seen to the order's address, including reverted ones (a reorg
        removed their block) and late ones (after expiry or cancellation).
        """
        return {"object": "list", "data": _load(order_id).payments, "has_more": False}


@blp.route("/<string:order_id>/cancel")
class OrderCancel(MethodView):
    @require("orders:write")
    @blp.response(200, OrderSchema)
    @blp.alt_response(
        409, schema=ApiErrorSchema, description="The order can no longer be cancelled"
    )
    def post(self, order_id: str):
        """Cancel an order that has received nothing yet"""
        session = db.session()
        order = _load(order_id, for_update=True)
        try:
            orders.cancel(session, order)
        except orders.InvalidState as exc:
            fail(409, "order_not_cancellable", str(exc))
        session.commit()
        return order
