"""The payouts resource: create, list, read, approve, cancel, and external signatures."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from gateway.core import audit
from gateway.core.wallet import payouts, sender
from gateway.core.wallet.models import Payout, PayoutStatus, PayoutWallet, WalletMode
from gateway.core.wallet.payouts import PayoutRefused
from gateway.core.wallet.schemas import PAYOUT, PayoutSchema
from gateway.web import db
from gateway.web.api.back_office import actor, refused
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema, page
from gateway.web.api.payouts import service
from gateway.web.api.payouts.schemas import (
    PayoutCreateSchema,
    PayoutListArgs,
    PayoutListSchema,
    SignedTransactionSchema,
)
from gateway.web.auth import require
from gateway.web.chains import drivers
from gateway.web.errors import fail
from gateway.web.idempotency import run_once
from gateway.web.quotas import quota

blp = Blueprint(
    "payouts",
    __name__,
    description="Payouts: tokens sent from the payout wallet (withdrawals, transfers, refunds).",
)


def load(payout_id: str, for_update: bool = False) -> Payout:
    """The caller's payout; another merchant's is "not found", never "forbidden"."""
    query = sa.select(Payout).where(Payout.id == payout_id, Payout.merchant_id == g.merchant_id)
    payout = db.session().scalar(query.with_for_update() if for_update else query)
    if payout is None:
        fail(404, "payout_not_found", f"no payout {payout_id}")
    return payout


@blp.route("")
class Payouts(MethodView):
    @require("payouts:read")
    @blp.arguments(PayoutListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, PayoutListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self, args: dict[str, Any]):
        """List payouts, newest first

        Filter by status, chain and order (an order's refunds); page with
        `starting_after` while `has_more` is true.
        """
        query = sa.select(Payout).where(Payout.merchant_id == g.merchant_id)
        for name in ("status", "chain", "order_id"):
            if name in args:
                query = query.where(getattr(Payout, name) == args[name])
        return page(db.session(), query, Payout, args, g.merchant_id)

    @require("payouts:write")
    @quota("payouts")
    @blp.arguments(PayoutCreateSchema)
    @blp.response(201, PayoutSchema)
    @blp.alt_response(
        422,
        schema=ApiErrorSchema,
        description="Invalid input, or refused: `invalid_address`, `insufficient_funds`,"
        " `insufficient_gas`, `daily_limit_exceeded`, `destination_not_allowed`,"
        " `destination_cooling_down`, `refund_too_large`, `invalid_refund`",
    )
    @blp.alt_response(409, schema=ApiErrorSchema, description="No payout wallet on this chain")
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such order (a refund)")
    @blp.alt_response(503, schema=ApiErrorSchema, description="The chain's node is unreachable")
    def post(self, body: dict[str, Any]):
        """Create a payout

        The amount is reserved from the payout wallet's available balance at once. A
        payout at or above the policy's approval threshold waits for another API key
        with the `payouts:approve` scope. With `order_id` it is a refund of that
        order, limited to what the order may still pay back. Send an
        `Idempotency-Key` header to retry safely.
        """
        session = db.session()
        driver, new = service.parse(body, body["chain"], body.get("order_id"))

        def create() -> tuple[Payout, int]:
            return service.create(session, driver, new)

        return run_once(session, g.merchant_id, PAYOUT, create)


@blp.route("/<string:payout_id>")
class PayoutById(MethodView):
    @require("payouts:read")
    @blp.response(200, PayoutSchema)
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such payout")
    def get(self, payout_id: str):
        """Get a payout"""
        return load(payout_id)


@blp.route("/<string:payout_id>/approve")
class PayoutApprove(MethodView):
    @require("payouts:approve")
    @blp.response(200, PayoutSchema)
    @blp.alt_response(
        403,
        schema=ApiErrorSchema,
        description="The key that created the payout cannot approve it (`same_credential`)",
    )
    @blp.alt_response(409, schema=ApiErrorSchema, description="The payout is not awaiting approval")
    def post(self, payout_id: str):
        """Approve a payout with a second API key"""
        payout = load(payout_id, for_update=True)
        try:
            payouts.approve(db.session(), payout, actor())
        except PayoutRefused as exc:
            refused(exc)
        db.session().commit()
        return payout


@blp.route("/<string:payout_id>/cancel")
class PayoutCancel(MethodView):
    @require("payouts:write")
    @blp.response(200, PayoutSchema)
    @blp.alt_response(
        409, schema=ApiErrorSchema, description="Broadcast already: it may be on chain"
    )
    def post(self, payout_id: str):
        """Cancel a payout that is not broadcast yet, releasing its reserve"""
        payout = load(payout_id, for_update=True)
        try:
            payouts.cancel(db.session(), payout, actor())
        except PayoutRefused as exc:
            refused(exc)
        db.session().commit()
        return payout


@blp.route("/<string:payout_id>/signed")
class PayoutSigned(MethodView):
    @require("payouts:write")
    @blp.arguments(SignedTransactionSchema)
    @blp.response(200, PayoutSchema)
    @blp.alt_response(
        422,
        schema=ApiErrorSchema,
        description="The signed transaction is not the approved payout (`signature_mismatch`)",
    )
    @blp.alt_response(
        409,
        schema=ApiErrorSchema,
        description="Not an external wallet's payout, not awaiting a signature, or signed"
        " already with other bytes",
    )
    def post(self, body: dict[str, Any], payout_id: str):
        """Post an external wallet's signature of a payout

        Sign the payout's `unsigned_transaction` with the external wallet and post the
        signed bytes here; they are checked against the approved payout (token,
        recipient, amount, chain, nonce, sender) and then broadcast by the gateway.
        """
        session = db.session()
        payout = load(payout_id, for_update=True)
        wallet = session.scalar(sa.select(PayoutWallet).where(PayoutWallet.id == payout.wallet_id))
        if wallet.mode != WalletMode.EXTERNAL:
            fail(409, "not_external", "the gateway signs this wallet's payouts itself")
        driver = drivers().get(payout.chain)
        if driver is None:
            fail(409, "chain_disabled", f"{payout.chain} is not enabled on this gateway")
        if payout.tx_hash is not None:
            return _signed_again(driver, payout, body["raw"])
        if payout.status != PayoutStatus.APPROVED or payout.expected is None:
            fail(
                409,
                "not_awaiting_signature",
                f"the payout is {payout.status} and has no unsigned transaction to sign yet",
            )
        try:
            signed = sender.attach_signed(session, driver, payout, body["raw"])
        except ValueError as exc:
            _mismatch(str(exc))
        audit.record(
            session, payout.merchant_id, actor(), "payout.sign", payout.id, tx_hash=signed.tx_hash
        )
        session.commit()
        return payout


def _signed_again(driver, payout: Payout, raw: str) -> Payout:
    """The same bytes again are a success (a retry); other bytes are refused."""
    try:
        signed = driver.decode(raw)
    except ValueError as exc:
        _mismatch(str(exc))
    if signed.tx_hash != payout.tx_hash:
        fail(409, "already_signed", f"the payout is signed already (transaction {payout.tx_hash})")
    return payout


def _mismatch(message: str):
    fail(422, "signature_mismatch", f"raw: {message}", {"raw": [message]})
