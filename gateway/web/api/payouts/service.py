"""Creating a payout from the API: parse, read the node, then decide under the wallet lock."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import g
from sqlalchemy.orm import Session

from gateway.core.money import to_base_units
from gateway.core.wallet import ledger, payouts, wallets
from gateway.core.wallet.models import Account, Payout
from gateway.core.wallet.payouts import NewPayout, PayoutRefused
from gateway.web.api.back_office import (
    actor,
    driver_of,
    payout_settings,
    refused,
    signed_decimal,
    unavailable,
)
from gateway.web.errors import fail, field_error
from plugins.base import ChainDriver, DriverError


def parse(body: dict[str, Any], chain: str, order_id: str | None) -> tuple[ChainDriver, NewPayout]:
    """Validated JSON as a NewPayout, or a 4xx naming the field at fault (no node asked
    but for the token's decimals, read once)."""
    driver = driver_of(chain)
    try:
        decimals = driver.decimals()
    except DriverError:
        unavailable(driver)
    try:
        amount = to_base_units(body["amount"], decimals)
    except ValueError as exc:
        field_error("amount", str(exc))
    if amount <= 0:
        field_error("amount", "must be greater than zero")
    try:
        to = payouts.destination(driver, body["to"])
    except PayoutRefused as exc:
        refused(exc)
    reference = body.get("reference") or (f"refund of {order_id}" if order_id else "")
    return driver, NewPayout(chain, to, amount, reference, order_id)


def create(session: Session, driver: ChainDriver, new: NewPayout) -> tuple[Payout, int]:
    """Read the fee estimate and the wallet's gas from the node, then create the payout.

    Called by run_once, which commits the payout with its idempotency row: a refusal
    writes nothing.
    """
    try:
        wallet = wallets.of(session, g.merchant_id, new.chain)
    except wallets.NoWallet:
        _no_wallet(new.chain)
    address = wallet.address
    # a first look without the lock: a payout that cannot fit asks the node nothing (the
    # decision is made again below, under the wallet's lock)
    available = ledger.balance(session, g.merchant_id, new.chain, Account.PAYOUT)
    if new.amount > available:
        refused(
            PayoutRefused(
                "insufficient_funds",
                "amount is more than the payout wallet's available "
                + signed_decimal(available, wallet.decimals),
                "amount",
            )
        )
    # no database transaction stays open while the node answers (on SQLite it would hold
    # the write lock). Nothing of the payout is written yet: what commits here is at most
    # run_once's removal of an expired Idempotency-Key, which must not be undone (its new
    # row is stored with the payout, and a concurrent twin is still caught by that insert)
    session.commit()
    try:
        fee_estimate = driver.build_transfer(address, new.to, new.amount).max_fee
        gas = driver.native_balance(address)
    except DriverError:
        unavailable(driver)
    rules = payouts.policy(session, g.merchant_id, payout_settings())
    try:
        payout = payouts.create(
            session, g.merchant_id, driver, new, actor(), rules, fee_estimate, gas
        )
    except PayoutRefused as exc:
        refused(exc)
    except wallets.NoWallet:
        _no_wallet(new.chain)
    except DriverError:
        unavailable(driver)
    return payout, 201


def _no_wallet(chain: str) -> NoReturn:
    fail(
        409,
        "no_payout_wallet",
        f"there is no payout wallet on {chain}: create one (POST /api/v1/payout-wallets)",
    )
