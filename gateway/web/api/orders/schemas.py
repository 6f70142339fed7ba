"""Marshmallow schemas of the orders resource."""

from __future__ import annotations

import marshmallow as ma

from gateway.core.orders import STATUSES
from gateway.core.schemas import OrderSchema, PaymentSchema
from gateway.web.api.common import ListArgs, list_schema

_amount_doc = 'Decimal string in USDT, e.g. "12.50". Never a JSON number.'


class OrderCreateSchema(ma.Schema):
    """What a shop sends to create an order."""

    amount = ma.fields.String(
        required=True, metadata={"description": _amount_doc, "example": "12.50"}
    )
    chain = ma.fields.String(
        required=True, validate=ma.validate.Length(1, 32), metadata={"example": "ethereum"}
    )
    reference = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 200),
        metadata={"description": "The shop's own order reference."},
    )
    metadata = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(1, 64)),
        load_default=dict,
        metadata={"description": "Free-form data returned as given."},
    )
    expires_in = ma.fields.Integer(
        strict=True,
        validate=ma.validate.Range(min=60),
        metadata={"description": "Seconds until the order expires (default from config)."},
    )


OrderListSchema = list_schema(OrderSchema)


PaymentListSchema = list_schema(PaymentSchema)


class OrderListArgs(ListArgs):
    """Filters of the order list."""

    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    chain = ma.fields.String(validate=ma.validate.Length(1, 32))
    reference = ma.fields.String(validate=ma.validate.Length(1, 200))
    created_gte = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created at or after."}
    )
    created_lt = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created before."}
    )
