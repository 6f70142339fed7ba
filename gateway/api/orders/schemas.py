"""Marshmallow schemas of the orders resource."""

from __future__ import annotations

import marshmallow as ma

from gateway.api.common import ListArgs, list_schema
from gateway.orders import STATUSES

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


class OrderSchema(ma.Schema):
    """An order and where to pay it."""

    id = ma.fields.String(metadata={"example": "ord_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.String(metadata={"example": "order"})
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    chain = ma.fields.String()
    token = ma.fields.String(metadata={"description": "Token contract on that chain."})
    reference = ma.fields.String()
    amount = ma.fields.String(metadata={"description": "Amount due, decimal string."})
    amount_base_units = ma.fields.String(metadata={"description": "Amount due in base units."})
    decimals = ma.fields.Integer()
    amount_received = ma.fields.String(metadata={"description": "Seen on chain, not reverted."})
    amount_confirmed = ma.fields.String()
    underpaid = ma.fields.Boolean()
    overpaid = ma.fields.Boolean()
    late = ma.fields.Boolean(metadata={"description": "Money arrived after expiry."})
    address = ma.fields.String(
        metadata={"description": "Deposit address, used by this order only."}
    )
    payment_uri = ma.fields.String()
    checkout_url = ma.fields.String(
        allow_none=True,
        metadata={"description": "Hosted page where the buyer pays this order."},
    )
    metadata = ma.fields.Dict()
    expires_at = ma.fields.String(metadata={"format": "date-time"})
    created_at = ma.fields.String(metadata={"format": "date-time"})
    updated_at = ma.fields.String(metadata={"format": "date-time"})
    paid_at = ma.fields.String(allow_none=True, metadata={"format": "date-time"})
    cancelled_at = ma.fields.String(allow_none=True, metadata={"format": "date-time"})


OrderListSchema = list_schema(OrderSchema)


class PaymentSchema(ma.Schema):
    """One on-chain transfer to an order's address."""

    id = ma.fields.String(metadata={"example": "pay_0f3kq8x2m7b1n8z5wa9c"})
    object = ma.fields.String(metadata={"example": "payment"})
    order_id = ma.fields.String()
    chain = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["confirming", "confirmed", "reverted"]})
    tx_hash = ma.fields.String()
    log_index = ma.fields.Integer()
    block_number = ma.fields.Integer()
    block_hash = ma.fields.String()
    from_address = ma.fields.String()
    to_address = ma.fields.String()
    amount = ma.fields.String(metadata={"description": "Decimal string."})
    amount_base_units = ma.fields.String()
    late = ma.fields.Boolean()
    created_at = ma.fields.String(metadata={"format": "date-time"})
    confirmed_at = ma.fields.String(allow_none=True, metadata={"format": "date-time"})
    reverted_at = ma.fields.String(allow_none=True, metadata={"format": "date-time"})


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
