"""Public shapes of the back office: payouts, payout wallets, deposits, ledger movements.

As for orders (gateway/core/schemas.py), one schema serves the API and the webhooks.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from gateway.core.events import TYPES as EVENT_TYPES
from gateway.core.schemas import Amount, BaseUnits, EventBodySchema, PaymentSchema, Timestamp
from gateway.core.wallet.models import PayoutStatus, WalletMode


def _payout_decimals(payout: Any) -> int:
    return payout.decimals


class WalletSchema(ma.Schema):
    """A payout wallet: the address payouts leave from (its key never appears)."""

    id = ma.fields.String(metadata={"example": "pwl_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.Constant("payout_wallet")
    chain = ma.fields.String()
    mode = ma.fields.String(
        metadata={
            "enum": [str(m) for m in WalletMode],
            "description": "`hot`: the gateway signs with a key it keeps encrypted; `external`:"
            " you sign each payout's unsigned transaction elsewhere and post it back.",
        }
    )
    address = ma.fields.String(metadata={"description": "Fund it with the token and with gas."})
    created_at = Timestamp()


class PayoutSchema(ma.Schema):
    """Tokens sent from a payout wallet: a withdrawal, a transfer or a refund."""

    id = ma.fields.String(metadata={"example": "po_3kq0c4v9x2m7b1n8z5wa9c"})
    object = ma.fields.Constant("payout")
    status = ma.fields.String(metadata={"enum": [str(s) for s in PayoutStatus]})
    chain = ma.fields.String()
    to = ma.fields.String(attribute="to_address")
    amount = Amount("amount", _payout_decimals, metadata={"description": "Decimal string."})
    amount_base_units = BaseUnits("amount")
    decimals = ma.fields.Integer()
    reference = ma.fields.String()
    order_id = ma.fields.String(allow_none=True, metadata={"description": "Set for a refund."})
    wallet_id = ma.fields.String()
    created_by = ma.fields.String(metadata={"description": "The credential that asked."})
    approved_by = ma.fields.String(allow_none=True)
    fee_estimate = BaseUnits(
        "fee_estimate", metadata={"description": "Most native currency (wei, sun) the fees use."}
    )
    fee_paid = ma.fields.String(allow_none=True)
    tx_hash = ma.fields.String(allow_none=True)
    block_number = ma.fields.Integer(allow_none=True)
    unsigned_transaction = ma.fields.Dict(
        attribute="unsigned",
        allow_none=True,
        metadata={"description": "External wallets: sign this and post it to /signed."},
    )
    failure = ma.fields.String(allow_none=True)
    created_at = Timestamp()
    approved_at = Timestamp(allow_none=True)
    broadcast_at = Timestamp(allow_none=True)
    confirmed_at = Timestamp(allow_none=True)
    cancelled_at = Timestamp(allow_none=True)

    @ma.post_dump(pass_original=True)
    def _fee_as_text(self, data: dict[str, Any], payout: Any, **kwargs: Any) -> dict[str, Any]:
        data["fee_paid"] = None if payout.fee_paid is None else str(payout.fee_paid)
        return data


class DepositSchema(PaymentSchema):
    """Tokens that reached a payout wallet (a payment without an order)."""

    object = ma.fields.Constant("deposit")
    wallet_id = ma.fields.String()


class PayoutEventSchema(EventBodySchema):
    """The body of a ``payout.*`` webhook: the payout as it now stands."""

    type = ma.fields.String(metadata={"enum": [t for t in EVENT_TYPES if t.startswith("payout.")]})
    data = ma.fields.Nested(PayoutSchema)


class DepositEventSchema(EventBodySchema):
    """The body of a ``payout_wallet.deposit`` webhook."""

    type = ma.fields.String(metadata={"enum": ["payout_wallet.deposit"]})
    data = ma.fields.Nested(DepositSchema)


class LowGasSchema(ma.Schema):
    """A payout wallet whose native currency fell under the configured floor."""

    object = ma.fields.Constant("payout_wallet")
    id = ma.fields.String()
    chain = ma.fields.String()
    address = ma.fields.String()
    native_balance = ma.fields.String(metadata={"description": "Wei or sun."})
    floor = ma.fields.String(metadata={"description": "Wei or sun."})


class LowGasEventSchema(EventBodySchema):
    """The body of a ``payout_wallet.low_gas`` webhook."""

    type = ma.fields.String(metadata={"enum": ["payout_wallet.low_gas"]})
    data = ma.fields.Nested(LowGasSchema)


PAYOUT = PayoutSchema()
DEPOSIT = DepositSchema()
WALLET = WalletSchema()
LOW_GAS = LowGasSchema()


#: The documented schema of each back-office event's webhook body, by type.
EVENT_SCHEMAS = {
    **{t: PayoutEventSchema for t in EVENT_TYPES if t.startswith("payout.")},
    "payout_wallet.deposit": DepositEventSchema,
    "payout_wallet.low_gas": LowGasEventSchema,
}
