"""Marshmallow schemas of the payouts resource."""

from __future__ import annotations

import marshmallow as ma

from gateway.core.wallet.models import PayoutStatus
from gateway.core.wallet.schemas import PayoutSchema
from gateway.web.api.common import ListArgs, list_schema

_amount_doc = 'Decimal string in USDT, e.g. "12.50". Never a JSON number.'


class PayoutCreateSchema(ma.Schema):
    """What a merchant sends to pay out from its payout wallet."""

    chain = ma.fields.String(
        required=True, validate=ma.validate.Length(1, 32), metadata={"example": "ethereum"}
    )
    to = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 100),
        metadata={"description": "The destination address on that chain."},
    )
    amount = ma.fields.String(
        required=True, metadata={"description": _amount_doc, "example": "12.50"}
    )
    reference = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 200),
        metadata={"description": "Your own reference for this payout."},
    )
    order_id = ma.fields.String(
        validate=ma.validate.Length(1, 32),
        metadata={"description": "A refund: the order whose money it pays back."},
    )


class RefundCreateSchema(ma.Schema):
    """A refund of an order: the chain is the order's."""

    to = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 100),
        metadata={"description": "Where the refund goes (the buyer's address)."},
    )
    amount = ma.fields.String(
        required=True, metadata={"description": _amount_doc, "example": "2.50"}
    )
    reference = ma.fields.String(
        validate=ma.validate.Length(1, 200),
        metadata={"description": "Your own reference (default: refund of <order id>)."},
    )


class SignedTransactionSchema(ma.Schema):
    """An external wallet's signature of a payout's unsigned transaction."""

    raw = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 100_000),
        metadata={
            "description": "EVM: the 0x-hex raw signed transaction; TRON: the signed"
            " transaction object as JSON text."
        },
    )


class PayoutListArgs(ListArgs):
    """Filters of the payout list."""

    status = ma.fields.String(validate=ma.validate.OneOf([str(s) for s in PayoutStatus]))
    chain = ma.fields.String(validate=ma.validate.Length(1, 32))
    order_id = ma.fields.String(validate=ma.validate.Length(1, 32))


PayoutListSchema = list_schema(PayoutSchema)


class RefundListSchema(PayoutListSchema):
    """An order's refunds, and what may still be refunded."""

    refundable = ma.fields.String(
        metadata={"description": "What a refund may still pay back (decimal string)."}
    )
    refundable_base_units = ma.fields.String()
