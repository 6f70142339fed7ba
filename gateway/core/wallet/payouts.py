"""Payouts: created with their amount reserved, approved by a second credential, cancellable
until broadcast. Signing and sending happen in gateway/core/wallet/sender.py.

Every check that guards money runs with the payout wallet's row locked, so concurrent
payouts of one wallet are decided one at a time and can never overdraw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core import audit, events
from gateway.core.audit import Actor
from gateway.core.models import Merchant, Order, OrderStatus, utcnow
from gateway.core.money import to_decimal_string
from gateway.core.wallet import ledger, wallets
from gateway.core.wallet.models import (
    CANCELLABLE,
    IN_FLIGHT,
    Account,
    AddressBookEntry,
    Payout,
    PayoutPolicy,
    PayoutStatus,
)
from gateway.core.wallet.schemas import PAYOUT
from plugins.base import ChainDriver

# the all-zero address of each family: tokens sent there are burnt
ZERO_ADDRESSES = {
    "0x0000000000000000000000000000000000000000",
    "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb",
}


class PayoutRefused(ValueError):
    """A payout that must not happen; ``code`` is stable, ``field`` names the input at fault."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.code, self.field, self.status = code, field, status


@dataclass(frozen=True)
class NewPayout:
    """What a merchant asks for; amount in base units."""

    chain: str
    to: str
    amount: int
    reference: str = ""
    order_id: str | None = None


@dataclass(frozen=True)
class Policy:
    """Approval threshold and daily limit in token units (decimal strings), allow-list rules."""

    approval_threshold: str
    daily_limit: str
    allowlist_only: bool
    allowlist_cooldown_minutes: int


def policy(session: Session, merchant_id: str, defaults: dict[str, Any]) -> Policy:
    """The merchant's payout policy, or the configuration's ``[payouts]`` defaults."""
    row = session.get(PayoutPolicy, merchant_id)
    if row is None:
        return Policy(
            defaults["approval_threshold"],
            defaults["daily_limit"],
            defaults["allowlist_only"],
            defaults["allowlist_cooldown_minutes"],
        )
    return Policy(
        row.approval_threshold,
        row.daily_limit or "",
        row.allowlist_only,
        row.allowlist_cooldown_minutes,
    )


def create(
    session: Session,
    merchant_id: str,
    driver: ChainDriver,
    new: NewPayout,
    actor: Actor,
    rules: Policy,
    fee_estimate: int,
    gas: int,
    now: datetime | None = None,
) -> Payout:
    """Check, reserve and store a payout; PayoutRefused says why one cannot be made.

    ``fee_estimate`` and ``gas`` (the wallet's native balance) are read from the node before
    the caller's transaction: no lock is held while the node answers.
    """
    now = now or utcnow()
    to = destination(driver, new.to)
    if new.amount <= 0:
        raise PayoutRefused("invalid_amount", "amount must be greater than zero", "amount")
    # the merchant first, then the wallet (always in this order): the daily limit counts
    # every chain's payouts, so two chains' payouts must not be decided at once
    session.execute(sa.select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())
    wallet = wallets.of(session, merchant_id, new.chain, lock=True)
    if to == wallet.address:
        raise PayoutRefused("invalid_destination", "to is the payout wallet itself", "to")
    decimals = driver.decimals()
    if rules.allowlist_only:
        _check_allowlist(session, merchant_id, new.chain, to, now)
    _check_daily_limit(session, merchant_id, new.amount, decimals, rules, now)
    if new.order_id is not None:
        _check_refund(session, merchant_id, new)
    available = ledger.balance(session, merchant_id, new.chain, Account.PAYOUT)
    if new.amount > available:
        raise PayoutRefused(
            "insufficient_funds",
            f"amount is more than the payout wallet's available "
            f"{to_decimal_string(max(0, available), decimals)}",
            "amount",
        )
    held = sum(
        session.scalars(
            sa.select(Payout.fee_estimate).where(
                Payout.wallet_id == wallet.id, Payout.status.in_(IN_FLIGHT)
            )
        )
    )
    if gas < held + fee_estimate:
        raise PayoutRefused(
            "insufficient_gas",
            "the payout wallet's native balance cannot pay the fees of its payouts in flight"
            " and this one: send it gas first",
            "chain",
        )
    needs_approval = Decimal(to_decimal_string(new.amount, decimals)) >= Decimal(
        rules.approval_threshold
    )
    payout = Payout(
        merchant_id=merchant_id,
        chain=new.chain,
        wallet_id=wallet.id,
        to_address=to,
        amount=new.amount,
        decimals=decimals,
        reference=new.reference,
        order_id=new.order_id,
        created_by=actor.id,
        fee_estimate=fee_estimate,
        status=PayoutStatus.AWAITING_APPROVAL if needs_approval else PayoutStatus.APPROVED,
        approved_at=None if needs_approval else now,
    )
    session.add(payout)
    session.flush()
    ledger.move(
        session,
        merchant_id,
        new.chain,
        "payout_reserved",
        new.amount,
        Account.PAYOUT,
        Account.RESERVED,
        payout_id=payout.id,
        order_id=new.order_id,
        address=wallet.address,
    )
    audit.record(
        session,
        merchant_id,
        actor,
        "payout.create",
        payout.id,
        chain=new.chain,
        to=to,
        amount=str(new.amount),
        order_id=new.order_id,
    )
    announce(session, payout, "payout.created")
    if not needs_approval:
        announce(session, payout, "payout.approved")
    return payout


def approve(session: Session, payout: Payout, actor: Actor) -> Payout:
    """The confirmation of a critical operation: another credential lets the payout go."""
    if payout.status == PayoutStatus.CANCELLED:
        raise PayoutRefused("payout_cancelled", "a cancelled payout cannot be approved", None, 409)
    if payout.status != PayoutStatus.AWAITING_APPROVAL:
        raise PayoutRefused("invalid_state", f"the payout is {payout.status}", None, 409)
    if actor.id == payout.created_by:
        raise PayoutRefused(
            "same_credential",
            "a payout must be approved by another credential than the one that created it",
            None,
            403,
        )
    payout.status, payout.approved_by, payout.approved_at = (
        PayoutStatus.APPROVED,
        actor.id,
        utcnow(),
    )
    audit.record(session, payout.merchant_id, actor, "payout.approve", payout.id)
    announce(session, payout, "payout.approved")
    return payout


def cancel(session: Session, payout: Payout, actor: Actor) -> Payout:
    """Cancel a payout that is not on its way yet, giving its reserve back."""
    if payout.status == PayoutStatus.CANCELLED:
        return payout
    if payout.status not in CANCELLABLE:
        raise PayoutRefused(
            "not_cancellable", f"a payout that is {payout.status} cannot be cancelled", None, 409
        )
    payout.status, payout.cancelled_at = PayoutStatus.CANCELLED, utcnow()
    release(session, payout, "payout_released")
    audit.record(session, payout.merchant_id, actor, "payout.cancel", payout.id)
    announce(session, payout, "payout.cancelled")
    return payout


def release(session: Session, payout: Payout, kind: str) -> None:
    """Give a payout's reserve back to the wallet (cancelled, or failed on chain)."""
    ledger.move(
        session,
        payout.merchant_id,
        payout.chain,
        kind,
        payout.amount,
        Account.RESERVED,
        Account.PAYOUT,
        payout_id=payout.id,
        order_id=payout.order_id,
        tx_hash=payout.tx_hash,
    )


def announce(session: Session, payout: Payout, type_: str) -> None:
    """Record a payout event with the payout as it now stands."""
    events.record(session, payout.merchant_id, type_, PAYOUT.dump(payout))


def destination(driver: ChainDriver, to: str) -> str:
    """The canonical destination; PayoutRefused for an invalid, zero or token address."""
    try:
        canonical = driver.normalize_address(to)
    except (ValueError, TypeError):
        raise PayoutRefused(
            "invalid_address", f"to is not a valid {driver.name} address", "to"
        ) from None
    if canonical in ZERO_ADDRESSES:
        raise PayoutRefused("invalid_address", "to is the zero address: tokens would burn", "to")
    if canonical == driver.token_address():
        raise PayoutRefused(
            "invalid_address", "to is the token contract itself: tokens would be lost", "to"
        )
    return canonical


def refundable(session: Session, order: Order) -> int:
    """What a refund of ``order`` may still pay back, in base units (confirmed money only).

    A paid order gives back what it received beyond its price (overpaid or late money); a
    cancelled or expired one all it received. Refunds already made or on their way count.
    """
    received = order.amount_confirmed
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        owed = received
    elif order.status == OrderStatus.PAID:
        owed = max(0, received - order.amount)
    else:
        owed = 0
    refunded = sum(
        session.scalars(
            sa.select(Payout.amount).where(
                Payout.order_id == order.id,
                Payout.status.not_in((PayoutStatus.CANCELLED, PayoutStatus.FAILED)),
            )
        )
    )
    return max(0, owed - refunded)


def _check_refund(session: Session, merchant_id: str, new: NewPayout) -> None:
    order = session.scalar(
        sa.select(Order)
        .where(Order.id == new.order_id, Order.merchant_id == merchant_id)
        .with_for_update()
    )
    if order is None:
        raise PayoutRefused("order_not_found", f"no order {new.order_id}", "order_id", 404)
    if order.chain != new.chain:
        raise PayoutRefused(
            "invalid_refund", f"the order was paid on {order.chain}, not {new.chain}", "chain"
        )
    left = refundable(session, order)
    if new.amount > left:
        raise PayoutRefused(
            "refund_too_large",
            f"amount is more than the order's refundable {to_decimal_string(left, order.decimals)}",
            "amount",
        )


def _check_allowlist(
    session: Session, merchant_id: str, chain: str, to: str, now: datetime
) -> None:
    entry = session.scalar(
        sa.select(AddressBookEntry).where(
            AddressBookEntry.merchant_id == merchant_id,
            AddressBookEntry.chain == chain,
            AddressBookEntry.address == to,
        )
    )
    if entry is None:
        raise PayoutRefused(
            "destination_not_allowed", "to is not in the address book (allow-list only)", "to"
        )
    if entry.usable_after > now:
        raise PayoutRefused(
            "destination_cooling_down",
            f"to was added to the address book recently; usable after {entry.usable_after}",
            "to",
        )


def _check_daily_limit(
    session: Session,
    merchant_id: str,
    amount: int,
    decimals: int,
    rules: Policy,
    now: datetime,
) -> None:
    if not rules.daily_limit:
        return
    midnight = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    today = session.execute(
        sa.select(Payout.amount, Payout.decimals).where(
            Payout.merchant_id == merchant_id,
            Payout.created_at >= midnight,
            Payout.created_at < midnight + timedelta(days=1),
            Payout.status.not_in((PayoutStatus.CANCELLED, PayoutStatus.FAILED)),
        )
    )
    spent = sum(Decimal(to_decimal_string(units, places)) for units, places in today)
    asked = Decimal(to_decimal_string(amount, decimals))
    if spent + asked > Decimal(rules.daily_limit):
        raise PayoutRefused(
            "daily_limit_exceeded",
            f"payouts today would reach {spent + asked}, over the daily limit {rules.daily_limit}",
            "amount",
        )
