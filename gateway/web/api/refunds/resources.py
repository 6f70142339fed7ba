"""An order's refunds: payouts with the order's id, and what may still be paid back."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from gateway.core.models import Order
from gateway.core.money import to_decimal_string
from gateway.core.wallet import payouts
from gateway.core.wallet.models import Payout
from gateway.core.wallet.schemas import PAYOUT, PayoutSchema
from gateway.web import db
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema
from gateway.web.api.payouts import service
from gateway.web.api.payouts.schemas import RefundCreateSchema, RefundListSchema
from gateway.web.auth import require
from gateway.web.errors import fail
from gateway.web.idempotency import run_once
from gateway.web.quotas import quota

blp = Blueprint(
    "refunds",
    __name__,
    description="Refunds: payouts that pay back (part of) what an order received.",
)


def _order(order_id: str) -> Order:
    query = sa.select(Order).where(Order.id == order_id, Order.merchant_id == g.merchant_id)
    order = db.session().scalar(query)
    if order is None:
        fail(404, "order_not_found", f"no order {order_id}")
    return order


@blp.route("/<string:order_id>/refunds")
class OrderRefunds(MethodView):
    @require("payouts:read")
    @blp.response(200, RefundListSchema)
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such order")
    def get(self, order_id: str):
        """List an order's refunds, oldest first, and what may still be refunded

        A paid order may give back what it received beyond its price; a cancelled or
        expired one everything it received (confirmed money only). Refunds made or on
        their way count; cancelled and failed ones do not.
        """
        session = db.session()
        order = _order(order_id)
        refunds = session.scalars(
            sa.select(Payout).where(Payout.order_id == order.id).order_by(Payout.seq)
        ).all()
        left = payouts.refundable(session, order)
        return {
            "object": "list",
            "data": refunds,
            "has_more": False,
            "refundable": to_decimal_string(left, order.decimals),
            "refundable_base_units": str(left),
        }

    @require("payouts:write")
    @quota("payouts")
    @blp.arguments(RefundCreateSchema)
    @blp.response(201, PayoutSchema)
    @blp.alt_response(
        422,
        schema=ApiErrorSchema,
        description="Invalid input, more than the order may refund (`refund_too_large`),"
        " or refused like any payout",
    )
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such order")
    @blp.alt_response(409, schema=ApiErrorSchema, description="No payout wallet on this chain")
    def post(self, body: dict[str, Any], order_id: str):
        """Refund an order from the payout wallet

        The same as `POST /api/v1/payouts` with the order's chain and `order_id`:
        reserved at once, approved like any payout. Send an `Idempotency-Key`
        header to retry safely.
        """
        session = db.session()
        order = _order(order_id)
        driver, new = service.parse(body, order.chain, order.id)

        def create() -> tuple[Payout, int]:
            return service.create(session, driver, new)

        return run_once(session, g.merchant_id, PAYOUT, create)
