"""Payments: record matched transfers exactly once, confirm them, revert them after reorgs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core import orders
from gateway.core.models import Order, OrderStatus, Payment, PaymentStatus, utcnow
from gateway.core.wallet import deposits, ledger
from gateway.core.wallet.models import Account
from plugins.base import Transfer

log = logging.getLogger(__name__)


def record(
    session: Session,
    chain: str,
    order: Order | None,
    transfer: Transfer,
    occurrence: int,
    wallet_id: str | None = None,
) -> Payment | None:
    """Store ``transfer`` as a payment to ``order`` (or, without an order, as a deposit to the
    payout wallet ``wallet_id``) unless it is already counted; the new one.

    A transfer is named by its transaction, sender, recipient, amount and ``occurrence``
    (how many identical transfers came before it in the same transaction), never by its
    log index: a reorg that re-includes the transaction in another block can shift its
    log indexes, and then one transfer would take another's place. Found again in another
    block, the payment is moved there in place (and revived if a reorg had reverted it).
    """
    payment = session.scalar(
        sa.select(Payment)
        .where(
            Payment.chain == chain,
            Payment.tx_hash == transfer.tx_hash,
            Payment.from_address == transfer.from_address,
            Payment.to_address == transfer.to_address,
            Payment.amount == transfer.amount,
            Payment.occurrence == occurrence,
        )
        .with_for_update()
    )
    if payment is None:
        payment = Payment(
            order_id=None if order is None else order.id,
            chain=chain,
            tx_hash=transfer.tx_hash,
            occurrence=occurrence,
            log_index=transfer.log_index,
            block_number=transfer.block_number,
            block_hash=transfer.block_hash,
            from_address=transfer.from_address,
            to_address=transfer.to_address,
            amount=transfer.amount,
            late=order is not None and _is_late(order, transfer),
            wallet_id=wallet_id,
        )
        if order is None:
            session.add(payment)
        else:
            # through the relationship only: adding to the session first would let the lazy
            # load of order.payments autoflush it and then list it twice
            order.payments.append(payment)
    elif payment.status == PaymentStatus.CONFIRMED or (
        payment.status == PaymentStatus.CONFIRMING and payment.block_hash == transfer.block_hash
    ):
        return None  # counted already: a rescan, or final before this read
    else:
        was_reverted = payment.status == PaymentStatus.REVERTED
        payment.block_number, payment.block_hash = transfer.block_number, transfer.block_hash
        payment.log_index = transfer.log_index
        payment.status, payment.reverted_at = PaymentStatus.CONFIRMING, None
        # judged again: the order may have been cancelled while the money was gone. Money
        # first mined before the expiry stays on time: the buyer paid in time, the chain
        # moved it.
        payment.late = order is not None and (
            order.status == OrderStatus.CANCELLED or (payment.late and _is_late(order, transfer))
        )
        if not was_reverted:
            return None
    session.flush()
    _announce(session, payment, "payment.received")
    return payment


def _is_late(order: Order, transfer: Transfer) -> bool:
    """Money after the order's expiry (by its block's clock) or on a cancelled order."""
    if order.status == OrderStatus.CANCELLED:
        return True
    return datetime.fromtimestamp(transfer.timestamp, UTC) > order.expires_at


def settle(session: Session, chain: str, hashes: dict[int, str | None], confirmed: int) -> int:
    """Judge payments in blocks whose canonical hash was read: confirm or revert them.

    A payment counts once its block is ``confirmed`` deep and still canonical; one whose
    block is gone is reverted, confirmed or not. ``hashes`` holds what the node said for
    each block; a block it does not know (None) or that was not read stays undecided.
    Returns the lowest height reverted, or -1.
    """
    if not hashes:
        return -1
    live = session.scalars(
        sa.select(Payment)
        .where(
            Payment.chain == chain,
            Payment.status != PaymentStatus.REVERTED,
            Payment.block_number.in_(list(hashes)),
        )
        .order_by(Payment.block_number, Payment.seq)
        .with_for_update()
    ).all()
    reverted_from = -1
    for payment in live:
        canonical = hashes[payment.block_number]
        if canonical is None:
            continue  # the node does not know the block (yet): unknown is not gone
        if canonical != payment.block_hash:
            _revert(session, payment)
            if reverted_from < 0:
                reverted_from = payment.block_number
        elif payment.status == PaymentStatus.CONFIRMING and payment.block_number <= confirmed:
            _confirm(session, payment)
    return reverted_from


def blocks_to_check(session: Session, chain: str, confirmed: int, above: int | None) -> set[int]:
    """Blocks whose hash the next settle needs: confirming payments now deep enough, and
    after a reorg every live payment above the fork point."""
    due = sa.and_(Payment.status == PaymentStatus.CONFIRMING, Payment.block_number <= confirmed)
    where = due if above is None else sa.or_(due, Payment.block_number > above)
    return set(
        session.scalars(
            sa.select(Payment.block_number)
            .distinct()
            .where(Payment.chain == chain, Payment.status != PaymentStatus.REVERTED, where)
        )
    )


def _confirm(session: Session, payment: Payment) -> None:
    payment.status, payment.confirmed_at = PaymentStatus.CONFIRMED, utcnow()
    _book(session, payment, reverse=False)
    _announce(session, payment, "payment.confirmed")


def _revert(session: Session, payment: Payment) -> None:
    if payment.status == PaymentStatus.CONFIRMED:
        # deeper than the confirmations: the money the shop was told about is gone
        log.critical(
            "confirmed payment %s left the canonical chain (block %s): raise confirmations",
            payment.id,
            payment.block_number,
        )
        _book(session, payment, reverse=True)
    else:
        log.warning(
            "payment %s left the canonical chain (block %s)", payment.id, payment.block_number
        )
    payment.status, payment.reverted_at = PaymentStatus.REVERTED, utcnow()
    _announce(session, payment, "payment.reverted")


def _announce(session: Session, payment: Payment, event: str) -> None:
    """Recompute the payment's order, then record ``event`` with both as they now stand."""
    if payment.order_id is None:
        deposits.announce(session, payment, event)
        return
    order = payment.order
    orders.recompute(session, order)
    orders.announce(session, order, event, payment)


def _book(session: Session, payment: Payment, reverse: bool) -> None:
    """Confirmed money enters the ledger; confirmed money a reorg took back leaves it."""
    if payment.order_id is None:
        deposits.book(session, payment, reverse)
        return
    sign = -1 if reverse else 1
    ledger.move(
        session,
        payment.order.merchant_id,
        payment.chain,
        "payment_reverted" if reverse else "payment",
        sign * payment.amount,
        Account.WORLD,
        Account.RECEIVED,
        payment_id=payment.id,
        order_id=payment.order_id,
        address=payment.to_address,
        tx_hash=payment.tx_hash,
    )


def for_orders(session: Session, order_ids: Iterable[str]) -> dict[str, Order]:
    """Orders by id, locked for the update that follows."""
    ids = list(order_ids)
    if not ids:
        return {}
    found = session.scalars(sa.select(Order).where(Order.id.in_(ids)).with_for_update())
    return {order.id: order for order in found}
