"""Marshmallow schemas of the transactions resource (the ledger's movements)."""

from __future__ import annotations

import marshmallow as ma

from gateway.core.schemas import Timestamp
from gateway.web.api.back_office import BaseUnits, Units
from gateway.web.api.common import ListArgs, list_schema

#: what a movement records (LedgerEntry.kind)
TYPES = (
    "payment",
    "payment_reverted",
    "deposit",
    "deposit_reverted",
    "payout_reserved",
    "payout_released",
    "payout_sent",
    "payout_reverted",
    "fee",
)


class TransactionSchema(ma.Schema):
    """One movement of money in the ledger, as the merchant sees it."""

    id = ma.fields.String(metadata={"example": "mov_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.Constant("transaction")
    type = ma.fields.String(attribute="kind", metadata={"enum": list(TYPES)})
    chain = ma.fields.String()
    asset = ma.fields.String(
        metadata={"enum": ["token", "native"], "description": "`native`: fees (ETH, TRX, ...)."}
    )
    amount = Units(
        "amount",
        "decimals",
        metadata={
            "description": "Signed decimal string: how much what you hold changed (money in"
            " is positive, payouts and fees negative); 0 when money moved between your own"
            " accounts (a payout's reserve, or its release)."
        },
    )
    amount_base_units = BaseUnits("amount")
    moved = Units(
        "moved",
        "decimals",
        metadata={"description": "How much went from `from_account` to `to_account`."},
    )
    moved_base_units = BaseUnits("moved")
    from_account = ma.fields.String(
        metadata={
            "description": "`world` (anyone outside), `received` (deposit addresses),"
            " `payout` (the payout wallet's available funds), `reserved` (held for payouts),"
            " `fees`."
        }
    )
    to_account = ma.fields.String()
    payment_id = ma.fields.String(allow_none=True)
    payout_id = ma.fields.String(allow_none=True)
    order_id = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    tx_hash = ma.fields.String(allow_none=True)
    created_at = Timestamp()


TransactionListSchema = list_schema(TransactionSchema)

#: the CSV export's columns, in order: the JSON fields but the constant ``object``
CSV_COLUMNS = [name for name in TransactionSchema().fields if name != "object"]


class TransactionListArgs(ListArgs):
    """Filters of the transaction list (and of its CSV export)."""

    chain = ma.fields.String(validate=ma.validate.Length(1, 32))
    type = ma.fields.String(validate=ma.validate.OneOf(TYPES))
    order_id = ma.fields.String(validate=ma.validate.Length(1, 32))
    created_gte = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created at or after."}
    )
    created_lt = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created before."}
    )
