"""The payout wallets resource: list, create (hot or external), read."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from gateway.core.wallet import wallets
from gateway.core.wallet.keys import KeysUnavailable
from gateway.core.wallet.models import PayoutWallet, WalletMode
from gateway.core.wallet.schemas import WALLET, WalletSchema
from gateway.web import db
from gateway.web.api.back_office import actor, driver_of, keyring, unavailable
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema, ListArgs, page
from gateway.web.api.payout_wallets.schemas import WalletCreateSchema, WalletListSchema
from gateway.web.auth import require
from gateway.web.errors import fail
from gateway.web.idempotency import run_once
from plugins.base import DriverError

blp = Blueprint(
    "payout_wallets",
    __name__,
    description="Payout wallets: the address a merchant's payouts leave from, one per chain.",
)

DISABLED = (
    "hot wallets are disabled on this gateway: its operator has not set the wallet"
    " passphrase ([wallets] passphrase_env or passphrase_file); register an external wallet"
)


def _load(wallet_id: str) -> PayoutWallet:
    query = sa.select(PayoutWallet).where(
        PayoutWallet.id == wallet_id, PayoutWallet.merchant_id == g.merchant_id
    )
    wallet = db.session().scalar(query)
    if wallet is None:
        fail(404, "payout_wallet_not_found", f"no payout wallet {wallet_id}")
    return wallet


@blp.route("")
class Wallets(MethodView):
    @require("wallets:read")
    @blp.arguments(ListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, WalletListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self, args: dict[str, Any]):
        """List payout wallets, newest first"""
        query = sa.select(PayoutWallet).where(PayoutWallet.merchant_id == g.merchant_id)
        return page(db.session(), query, PayoutWallet, args, g.merchant_id)

    @require("wallets:write")
    @blp.arguments(WalletCreateSchema)
    @blp.response(201, WalletSchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="Invalid input or address")
    @blp.alt_response(
        409, schema=ApiErrorSchema, description="A payout wallet exists on this chain"
    )
    @blp.alt_response(
        503,
        schema=ApiErrorSchema,
        description="Hot wallets are disabled on this gateway (`hot_wallets_disabled`), or"
        " the chain's node is unreachable (`chain_unavailable`)",
    )
    def post(self, body: dict[str, Any]):
        """Create a payout wallet

        `hot`: the gateway generates a key, keeps it encrypted under its passphrase and
        signs payouts itself; the key never appears in any answer. `external`: give the
        address; each payout then carries an unsigned transaction to sign elsewhere and
        post back. Fund the address with the token and with gas. Send an
        `Idempotency-Key` header to retry safely.
        """
        session = db.session()
        driver = driver_of(body["chain"])
        hot = body["mode"] == WalletMode.HOT
        if hot and not keyring().enabled:
            fail(503, "hot_wallets_disabled", DISABLED)

        def create() -> tuple[PayoutWallet, int]:
            try:
                if hot:
                    wallet = wallets.create_hot(session, g.merchant_id, driver, keyring(), actor())
                else:
                    wallet = wallets.register_external(
                        session, g.merchant_id, driver, actor(), body["address"]
                    )
            except wallets.WalletExists:
                fail(409, "wallet_exists", f"there is a payout wallet on {driver.name} already")
            except KeysUnavailable:
                fail(503, "hot_wallets_disabled", DISABLED)
            except DriverError:  # the token's decimals, read once
                unavailable(driver)
            except ValueError:
                message = f"not a valid {driver.name} address"
                fail(422, "invalid_address", f"address: {message}", {"address": [message]})
            return wallet, 201

        return run_once(session, g.merchant_id, WALLET, create)


@blp.route("/<string:wallet_id>")
class WalletById(MethodView):
    @require("wallets:read")
    @blp.response(200, WalletSchema)
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such payout wallet")
    def get(self, wallet_id: str):
        """Get a payout wallet"""
        return _load(wallet_id)
