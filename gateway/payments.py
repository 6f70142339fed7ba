"""Payments: record matched transfers exactly once, confirm them, revert them after reorgs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway import events, orders
from gateway.models import Order, Payment, utcnow
from plugins.base import ChainDriver, Transfer

log = logging.getLogger(__name__)


def record(
    session: Session, chain: str, order: Order, transfer: Transfer, seen_at: datetime
) -> Payment | None:
    """Store ``transfer`` as a payment to ``order`` unless it is already counted.

    Payments are unique on (chain, tx hash, log index), so a rescan after a restart
    or a reorg finds the row and never counts the money twice. A transfer that a reorg
    had reverted and the new chain re-includes is revived in place.
    """
    payment = session.scalar(
        sa.select(Payment)
        .where(
            Payment.chain == chain,
            Payment.tx_hash == transfer.tx_hash,
            Payment.log_index == transfer.log_index,
        )
        .with_for_update()
    ) or _moved(session, chain, transfer)
    if payment is not None:
        if payment.status == "confirmed":
            return None
        if payment.status == "confirming" and payment.block_hash == transfer.block_hash:
            return None  # a rescan of what we already have
        # reverted and found again (re-included, or the chain flipped back), or moved to
        # another block: the same transfer, counted in place
        was_reverted = payment.status == "reverted"
        payment.block_number, payment.block_hash = transfer.block_number, transfer.block_hash
        payment.log_index = transfer.log_index
        payment.status, payment.reverted_at = "confirming", None
        if not was_reverted:
            return None
    else:
        payment = Payment(
            order_id=order.id,
            chain=chain,
            tx_hash=transfer.tx_hash,
            log_index=transfer.log_index,
            block_number=transfer.block_number,
            block_hash=transfer.block_hash,
            from_address=transfer.from_address,
            to_address=transfer.to_address,
            amount=transfer.amount,
            late=_is_late(order, transfer, seen_at),
        )
        # through the relationship only: adding to the session first would let the lazy
        # load of order.payments autoflush it and then list it twice
        order.payments.append(payment)
    session.flush()
    _announce(session, payment, "payment.received")
    return payment


def _moved(session: Session, chain: str, transfer: Transfer) -> Payment | None:
    """The unconfirmed payment this transfer already is, re-mined under another log index.

    On EVM chains a log's index counts across the whole block, so a transaction that a
    reorg puts in another block usually gets a new one. Without this lookup the same
    money would count twice until the stale copy is reverted.
    """
    return session.scalar(
        sa.select(Payment)
        .where(
            Payment.chain == chain,
            Payment.tx_hash == transfer.tx_hash,
            Payment.block_hash != transfer.block_hash,
            Payment.status != "confirmed",
            Payment.from_address == transfer.from_address,
            Payment.to_address == transfer.to_address,
            Payment.amount == transfer.amount,
        )
        .order_by(Payment.log_index)
        .limit(1)
        .with_for_update()
    )


def _is_late(order: Order, transfer: Transfer, seen_at: datetime) -> bool:
    if order.status == "cancelled":
        return True
    # the block's own time decides when the node gives it; else when we saw it
    moment = (
        datetime.fromtimestamp(transfer.timestamp, UTC)
        if transfer.timestamp is not None
        else seen_at
    )
    return moment > order.expires_at


def settle(session: Session, chain: str, driver: ChainDriver, confirmed_head: int) -> int:
    """Confirm payments whose block is final and still canonical; revert vanished ones.

    One block-hash lookup per distinct block with payments in flight, whatever the
    number of orders. Returns the height reverted from, or -1 when nothing reverted.
    """
    pending = session.scalars(
        sa.select(Payment)
        .where(Payment.chain == chain, Payment.status == "confirming")
        .with_for_update()
    ).all()
    hashes: dict[int, str | None] = {}
    reverted_from = -1
    for payment in sorted(pending, key=lambda p: p.block_number):
        if payment.block_number not in hashes:
            hashes[payment.block_number] = driver.block_hash(payment.block_number)
        canonical = hashes[payment.block_number]
        if canonical is None:
            continue  # the node does not know the block (yet): unknown is not gone
        if canonical != payment.block_hash:
            _revert(session, payment)
            if reverted_from < 0:
                reverted_from = payment.block_number
        elif payment.block_number <= confirmed_head:
            _confirm(session, payment)
    return reverted_from


def _confirm(session: Session, payment: Payment) -> None:
    payment.status, payment.confirmed_at = "confirmed", utcnow()
    _announce(session, payment, "payment.confirmed")


def _revert(session: Session, payment: Payment) -> None:
    log.warning("payment %s left the canonical chain (block %s)", payment.id, payment.block_number)
    payment.status, payment.reverted_at = "reverted", utcnow()
    _announce(session, payment, "payment.reverted")


def _announce(session: Session, payment: Payment, event: str) -> None:
    """Recompute the payment's order, then record ``event`` with both as they now stand."""
    order = payment.order
    orders.recompute(session, order)
    events.record(session, order.merchant_id, event, serialize_with_order(payment, order))


def serialize_with_order(payment: Payment, order: Order) -> dict:
    """A payment event's data: the payment, with its order as it now stands."""
    data = orders.serialize_payment(payment, order.decimals)
    data["order"] = orders.serialize(order)
    return data


def for_orders(session: Session, order_ids: Iterable[str]) -> dict[str, Order]:
    """Orders by id, locked for the update that follows."""
    ids = list(order_ids)
    if not ids:
        return {}
    found = session.scalars(sa.select(Order).where(Order.id.in_(ids)).with_for_update())
    return {order.id: order for order in found}
