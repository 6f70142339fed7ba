"""Marshmallow schemas of the balances resource."""

from __future__ import annotations

import marshmallow as ma

from gateway.web.api.back_office import BaseUnits, Units
from gateway.web.api.common import ListArgs, list_schema

_IN_USDT = "Decimal string in USDT; null when the token's decimals cannot be read."
_IN_NATIVE = "Decimal string in the chain's native currency (ETH, BNB, TRX, ...)."


class PayoutSideSchema(ma.Schema):
    """The payout wallet of a chain: what it may pay, what is held, its gas and fees."""

    wallet_id = ma.fields.String(allow_none=True, metadata={"description": "Null: no wallet."})
    address = ma.fields.String(allow_none=True)
    mode = ma.fields.String(allow_none=True)
    available = Units("available", "decimals", metadata={"description": _IN_USDT})
    available_base_units = BaseUnits("available")
    reserved = Units(
        "reserved",
        "decimals",
        metadata={"description": "Held for payouts created and not yet confirmed. " + _IN_USDT},
    )
    reserved_base_units = BaseUnits("reserved")
    native_decimals = ma.fields.Integer(allow_none=True)
    gas = Units(
        "gas",
        "native_decimals",
        metadata={
            "description": "The wallet's native balance as the node says now; null without"
            " a wallet or when the node cannot be reached. " + _IN_NATIVE
        },
    )
    gas_base_units = BaseUnits("gas", metadata={"description": "Wei, sun, ..."})
    fees_paid = Units(
        "fees_paid", "native_decimals", metadata={"description": "Fees of confirmed payouts."}
    )
    fees_paid_base_units = BaseUnits("fees_paid")


class ChainBalanceSchema(ma.Schema):
    """What a merchant holds on one chain."""

    object = ma.fields.Constant("chain_balance")
    chain = ma.fields.String()
    decimals = ma.fields.Integer(allow_none=True)
    received = Units(
        "received",
        "decimals",
        metadata={
            "description": "Confirmed payments on the watch-only deposit addresses (your"
            " own wallet holds and moves them; the gateway cannot). " + _IN_USDT
        },
    )
    received_base_units = BaseUnits("received")
    pending = Units(
        "pending",
        "decimals",
        metadata={"description": "Payments seen on chain, not yet confirmed. " + _IN_USDT},
    )
    pending_base_units = BaseUnits("pending")
    payout = ma.fields.Nested(PayoutSideSchema)


BalanceListSchema = list_schema(ChainBalanceSchema)


class DepositAddressSchema(ma.Schema):
    """A deposit address holding received money, and the key path that controls it."""

    object = ma.fields.Constant("deposit_address")
    chain = ma.fields.String()
    address = ma.fields.String()
    order_id = ma.fields.String(metadata={"description": "The order the address was made for."})
    received = Units("received", "decimals", metadata={"description": "Confirmed money."})
    received_base_units = BaseUnits("received")
    hd_index = ma.fields.Integer()
    relative_path = ma.fields.String(
        metadata={
            "description": "The path below your registered account-level xpub, `0/<index>`:"
            " what your wallet derives the key with.",
            "example": "0/17",
        }
    )
    derivation_path = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The full BIP-44 path, `m/44'/<coin>'/<account>'/0/<index>` (60 for"
            " EVM chains, 195 for TRON), with the account the xpub says it is.",
            "example": "m/44'/60'/0'/0/17",
        },
    )


DepositAddressListSchema = list_schema(DepositAddressSchema)


class DepositAddressListArgs(ListArgs):
    """Filters of the deposit address list; ``starting_after`` is an ``order_id``."""

    chain = ma.fields.String(validate=ma.validate.Length(1, 32))
