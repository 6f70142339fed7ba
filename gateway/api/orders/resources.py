"""The orders resource: create, read, list and cancel."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g
from flask.views import MethodView

from gateway import db, orders
from gateway.addresses import NoXpub
from gateway.api.base import Blueprint
from gateway.api.common import ApiErrorSchema, page
from gateway.api.orders.schemas import (
    OrderCreateSchema,
    OrderListArgs,
    OrderListSchema,
    OrderSchema,
    PaymentListSchema,
)
from gateway.auth import require
from gateway.errors import fail
from gateway.idempotency import run_once
from gateway.models import Order
from gateway.order_input import parse_new_order
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
        return page(db.session(), query, Order, args, orders.serialize, g.merchant_id)

    @require("orders:write")
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="Invalid input")
    @blp.alt_response(409, schema=ApiErrorSchema, description="No xpub registered for the chain")
    def post(self, body: dict[str, Any]):
        """Create an order

        Answers with a fresh deposit address used by this order only, the exact
        amount to pay and a payment URI. Send an `Idempotency-Key` header to
        retry safely: the same key and body return the first answer.
        """
        session = db.session()
        driver, new = parse_new_order(body, current_app.config["GATEWAY"]["orders"])

        def create() -> tuple[dict[str, Any], int]:
            try:
                order = orders.create(session, g.merchant_id, driver, new)
            except NoXpub:
                fail(
                    409,
                    "xpub_missing",
                    f"register an xpub for {driver.family} chains first (gateway merchant xpub)",
                )
            except DriverError:
                fail(
                    503,
                    "chain_unavailable",
                    f"the {driver.name} node cannot be reached; retry later",
                )
            return orders.serialize(order), 201

        return run_once(session, g.merchant_id, create)


@blp.route("/<string:order_id>")
class OrderById(MethodView):
    @require("orders:read")
    @blp.response(200, OrderSchema)
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such order")
    def get(self, order_id: str):
        """Get an order"""
        return orders.serialize(_load(order_id))


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
        order = _load(order_id)
        data = [orders.serialize_payment(p, order.decimals) for p in order.payments]
        return {"object": "list", "data": data, "has_more": False}


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
        return orders.serialize(order)
