"""The balances resource: per chain, and the deposit addresses holding received money."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView

from gateway.core.models import Order
from gateway.core.wallet import history
from gateway.web import db
from gateway.web.api.back_office import Decimals
from gateway.web.api.balances.schemas import (
    BalanceListSchema,
    DepositAddressListArgs,
    DepositAddressListSchema,
)
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema, page
from gateway.web.auth import require
from gateway.web.chains import drivers
from plugins.base import DriverError

blp = Blueprint(
    "balances",
    __name__,
    description="Balances: received money, the payout wallet's funds and gas, per chain.",
)


@blp.route("")
class Balances(MethodView):
    @require("balances:read")
    @blp.response(200, BalanceListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self):
        """Get the balances of every chain

        `received`: confirmed payments, on deposit addresses only your own wallet can
        move. `pending`: payments still confirming. `payout.available`: what payouts
        may use; `payout.reserved`: held by payouts on their way; `payout.gas`: the
        payout wallet's native balance read from the node now (null when the node
        cannot be reached); `payout.fees_paid`: fees of confirmed payouts.
        """
        session = db.session()
        decimals = Decimals()
        chains = {name: (decimals.token(name), decimals.native(name)) for name in drivers()}
        found = history.balances(session, g.merchant_id, chains)
        session.rollback()  # no transaction stays open while the nodes answer
        for balance in found:
            side, driver = balance.payout, drivers().get(balance.chain)
            if side.address is None or driver is None:
                continue
            try:
                side.gas = driver.native_balance(side.address)
            except DriverError:
                side.gas = None
        return {"object": "list", "data": found, "has_more": False}


@blp.route("/addresses")
class DepositAddresses(MethodView):
    @require("balances:read")
    @blp.arguments(DepositAddressListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, DepositAddressListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self, args: dict[str, Any]):
        """List the deposit addresses holding received money, newest first

        One row per address that received confirmed money, with the path of its key
        below your account-level xpub (`relative_path`, `0/<index>`): the gateway
        only watches these addresses; sweep them with your own wallet. Page with
        `starting_after` set to the last row's `order_id`.
        """
        session = db.session()
        query = history.with_money(g.merchant_id, args.get("chain"))
        found = page(session, query, Order, args, g.merchant_id)
        found["data"] = history.deposit_addresses(session, found["data"])
        return found
