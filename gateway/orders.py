"""The order service: creation, the state machine, expiry and cancellation. Knows no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session, sessionmaker

from gateway import addresses, events
from gateway.models import ChainCursor, Order, Payment, utcnow
from gateway.money import to_decimal_string
from plugins.base import ChainDriver

OPEN = ("pending", "confirming")
STATUSES = ("pending", "confirming", "paid", "expired", "cancelled")
# Session.info key: the public URL the hosted checkout page of an order id is appended to
CHECKOUT_PREFIX = "checkout_url_prefix"


class InvalidState(Exception):
    """The order's state does not allow this action."""


@dataclass(frozen=True)
class NewOrder:
    """What a shop asks for; amount already in base units."""

    chain: str
    amount: int
    reference: str
    metadata: dict[str, Any]
    expires_at: datetime


def create(session: Session, merchant_id: str, driver: ChainDriver, new: NewOrder) -> Order:
    """Allocate the address, store the order and its ``order.created`` event."""
    _ensure_cursor(session, new.chain, driver)
    account_id, index, address = addresses.allocate(session, merchant_id, driver)
    order = Order(
        merchant_id=merchant_id,
        chain=new.chain,
        reference=new.reference,
        amount=new.amount,
        decimals=driver.decimals(),
        token=driver.token_address(),
        address=address,
        payment_uri=driver.payment_uri(address, new.amount),
        hd_account_id=account_id,
        hd_index=index,
        meta=new.metadata,
        expires_at=new.expires_at,
    )
    session.add(order)
    session.flush()
    events.record(session, order.merchant_id, "order.created", serialize(order))
    return order


def _ensure_cursor(session: Session, chain: str, driver: ChainDriver) -> None:
    """Make sure the watcher will scan from before this chain's first order.

    Without it a watcher started after the first payments would begin near the head
    and never see them. Only the first order of a chain pays for the head lookup.
    """
    if session.get(ChainCursor, chain) is not None:
        return
    start = max(0, driver.head() - driver.confirmations)
    try:
        with session.begin_nested():
            session.add(ChainCursor(chain=chain, next_block=start))
    except IntegrityError:
        pass  # a concurrent first order created it


def cancel(session: Session, order: Order) -> Order:
    """Cancel an order nobody has paid into yet."""
    if order.status == "cancelled":
        return order
    if order.status != "pending" or order.amount_seen > 0:
        raise InvalidState(f"an order that is {order.status} or has payments cannot be cancelled")
    order.cancelled_at = utcnow()
    _move(session, order, "cancelled")
    return order


def expire_due(session: Session, now: datetime | None = None, chain: str | None = None) -> int:
    """Expire every pending order whose time is up (on one chain, or all); returns how many."""
    now = now or utcnow()
    query = sa.select(Order).where(Order.status == "pending", Order.expires_at <= now)
    if chain is not None:
        query = query.where(Order.chain == chain)
    due = session.scalars(query.with_for_update(skip_locked=True)).all()
    for order in due:
        _move(session, order, "expired")
    return len(due)


def recompute(session: Session, order: Order, now: datetime | None = None) -> None:
    """Derive amounts, flags and status from the order's payments and the clock."""
    now = now or utcnow()
    live = [p for p in order.payments if p.status != "reverted"]
    seen = sum(p.amount for p in live)
    confirmed = sum(p.amount for p in live if p.status == "confirmed")
    order.amount_seen, order.amount_confirmed = seen, confirmed
    order.late = any(p.late for p in live)

    was_underpaid, was_overpaid = order.underpaid, order.overpaid
    order.underpaid = 0 < seen < order.amount
    order.overpaid = seen > order.amount
    if order.underpaid and not was_underpaid:
        events.record(session, order.merchant_id, "order.underpaid", serialize(order))
    if order.overpaid and not was_overpaid:
        events.record(session, order.merchant_id, "order.overpaid", serialize(order))

    if order.status == "cancelled":
        return  # money after cancelling is recorded and flagged; the merchant decides
    if order.status == "expired" and sum(p.amount for p in live if not p.late) < order.amount:
        return  # late money is recorded and flagged; the merchant decides what to do
    if confirmed >= order.amount:
        target = "paid"
    elif seen >= order.amount:
        target = "confirming"
    elif order.expires_at <= now:
        target = "expired"
    else:
        target = "pending"
    if target != order.status:
        if target == "paid":
            order.paid_at = now
        elif order.status == "paid":
            order.paid_at = None
        _move(session, order, target)


def _move(session: Session, order: Order, status: str) -> None:
    order.status = status
    order.updated_at = utcnow()
    # going back to pending after a reorg is told by payment.reverted, not by its own event
    if status != "pending":
        events.record(session, order.merchant_id, f"order.{status}", serialize(order))


def serialize(order: Order) -> dict[str, Any]:
    """The order as the API and webhooks show it; amounts are decimal strings."""
    decimals = order.decimals
    return {
        "id": order.id,
        "object": "order",
        "status": order.status,
        "chain": order.chain,
        "token": order.token,
        "reference": order.reference,
        "amount": to_decimal_string(order.amount, decimals),
        "amount_base_units": str(order.amount),
        "decimals": decimals,
        "amount_received": to_decimal_string(order.amount_seen, decimals),
        "amount_confirmed": to_decimal_string(order.amount_confirmed, decimals),
        "underpaid": order.underpaid,
        "overpaid": order.overpaid,
        "late": order.late,
        "address": order.address,
        "payment_uri": order.payment_uri,
        "checkout_url": checkout_url(order),
        "metadata": order.meta,
        "expires_at": _iso(order.expires_at),
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
        "paid_at": _iso(order.paid_at),
        "cancelled_at": _iso(order.cancelled_at),
    }


def link_checkout(sessions: sessionmaker, prefix: str) -> None:
    """Have orders loaded through ``sessions`` serialize with ``prefix + id`` as checkout_url.

    The prefix travels in each session's ``info``, so every process that builds the app
    (web, watcher) puts the same link in API answers and webhook events alike, and the
    services keep knowing nothing of HTTP or of the app.
    """
    sessions.configure(info={**sessions.kw.get("info", {}), CHECKOUT_PREFIX: prefix})


def checkout_url(order: Order) -> str | None:
    """The buyer's hosted payment page; None where no checkout page is configured."""
    session = object_session(order)
    prefix = session.info.get(CHECKOUT_PREFIX) if session is not None else None
    return None if prefix is None else prefix + order.id


def serialize_payment(payment: Payment, decimals: int) -> dict[str, Any]:
    """A payment as the API and webhooks show it."""
    return {
        "id": payment.id,
        "object": "payment",
        "order_id": payment.order_id,
        "chain": payment.chain,
        "status": payment.status,
        "tx_hash": payment.tx_hash,
        "log_index": payment.log_index,
        "block_number": payment.block_number,
        "block_hash": payment.block_hash,
        "from_address": payment.from_address,
        "to_address": payment.to_address,
        "amount": to_decimal_string(payment.amount, decimals),
        "amount_base_units": str(payment.amount),
        "late": payment.late,
        "created_at": _iso(payment.created_at),
        "confirmed_at": _iso(payment.confirmed_at),
        "reverted_at": _iso(payment.reverted_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
