"""The order service: creation, the state machine, expiry and cancellation. Knows no HTTP."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from gateway.core import addresses, events, models, schemas
from gateway.core.models import ChainCursor, Order, OrderStatus, Payment, PaymentStatus, utcnow
from plugins.base import ChainDriver

OPEN = (OrderStatus.PENDING, OrderStatus.CONFIRMING)
STATUSES = tuple(OrderStatus)


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
    """Allocate the address, store the order and its ``order.created`` event.

    The merchant's account row is locked from the allocation to the caller's commit, so
    one merchant's orders pass it one at a time: everything that does not need the
    address is done before, and what follows it are single Core statements.
    """
    _ensure_cursor(session, new.chain, driver)
    now = utcnow()
    order = Order(
        id=models.new_id("ord"),
        merchant_id=merchant_id,
        chain=new.chain,
        reference=new.reference,
        amount=new.amount,
        decimals=driver.decimals(),
        token=driver.token_address(),
        meta=new.metadata,
        expires_at=new.expires_at,
        status=OrderStatus.PENDING,
        version=1,
        amount_seen=0,
        amount_confirmed=0,
        underpaid=False,
        overpaid=False,
        late=False,
        created_at=now,
        updated_at=now,
        paid_at=None,
        cancelled_at=None,
    )
    while True:
        account_id, index, address = addresses.allocate(session, merchant_id, driver)
        order.hd_account_id, order.hd_index, order.address = account_id, index, address
        order.payment_uri = driver.payment_uri(address, new.amount)
        if _insert(session, order):
            break
        addresses.skip(session, new.chain, account_id, index, address)
    events.insert(session, merchant_id, "order.created", schemas.ORDER.dump(order))
    return order


def _order_insert(dialect: ModuleType) -> sa.Insert:
    # An address another order holds inserts nothing: the unique index looks, in the same
    # statement, instead of a SELECT while the account row is locked. Any other unique
    # column still raises.
    orders = Order.__table__
    return (
        dialect.insert(orders)
        .on_conflict_do_nothing(index_elements=[orders.c.chain, orders.c.address])
        .returning(orders.c.seq)
    )


_ORDER_INSERT = {"postgresql": _order_insert(postgresql), "sqlite": _order_insert(sqlite)}


@functools.cache
def _order_columns() -> tuple[tuple[str, str], ...]:
    """(attribute, column) of every column an order is inserted with, seq aside."""
    return tuple(
        (prop.key, prop.columns[0].key)
        for prop in sa.inspect(Order).column_attrs
        if prop.key != "seq"
    )


def _insert(session: Session, order: Order) -> bool:
    """INSERT a new order with Core and have the session hold it as if it had loaded it;
    False, and nothing written, when another order holds its address.

    The ORM's unit of work would cost several times the statement, while the merchant's
    account row is locked. Columns left unset take their defaults, loaded on first use.
    """
    connection = session.connection()
    given = sa.inspect(order).dict
    values = {column: given[name] for name, column in _order_columns() if name in given}
    seq = connection.execute(_ORDER_INSERT[connection.dialect.name], values).scalar()
    if seq is None:
        return False
    order.seq = seq
    make_transient_to_detached(order)
    session.add(order)  # persistent: lazy loads and the checkout link work as for any order
    return True


_CURSOR = sa.select(ChainCursor.chain).where(ChainCursor.chain == sa.bindparam("chain"))
# Chains whose cursor this process has seen, by database (engine). Cursors are never
# deleted, so once one is known its chain's orders skip the look.
_known_cursors: weakref.WeakKeyDictionary[sa.Engine, set[str]] = weakref.WeakKeyDictionary()
_NEW_CURSORS = "orders.new_cursors"  # Session.info key: cursors this session added


def forget_cursors(engine: sa.Engine) -> None:
    """Forget which cursors exist in ``engine``'s database (after they were deleted: a wiped
    database, tests that reset one)."""
    _known_cursors.pop(engine, None)


def _ensure_cursor(session: Session, chain: str, driver: ChainDriver) -> None:
    """Make sure the watcher will scan from before this chain's first order.

    Without it a watcher started after the first payments would begin near the head
    and never see them. Only the first order of a chain pays for the head lookup.
    """
    known = _known_cursors.setdefault(session.get_bind().engine, set())
    if chain in known:
        return
    if session.connection().execute(_CURSOR, {"chain": chain}).first() is not None:
        # one this session added may still be rolled back: only others' are known for good
        if chain not in session.info.get(_NEW_CURSORS, ()):
            known.add(chain)
        return
    cursor = ChainCursor.near(chain, driver.tip().number, driver.confirmations)
    try:
        with session.begin_nested():
            session.add(cursor)
    except IntegrityError:
        pass  # a concurrent first order created it
    else:
        session.info.setdefault(_NEW_CURSORS, set()).add(chain)


def cancel(session: Session, order: Order) -> Order:
    """Cancel an order nobody has paid into yet."""
    if order.status == OrderStatus.CANCELLED:
        return order
    if order.status != OrderStatus.PENDING or order.amount_seen > 0:
        raise InvalidState(f"an order that is {order.status} or has payments cannot be cancelled")
    order.cancelled_at = utcnow()
    _move(session, order, OrderStatus.CANCELLED)
    return order


def expire_due(session: Session, now: datetime | None = None, chain: str | None = None) -> int:
    """Expire every pending order whose time is up (on one chain, or all); returns how many."""
    now = now or utcnow()
    query = sa.select(Order).where(Order.status == OrderStatus.PENDING, Order.expires_at <= now)
    if chain is not None:
        query = query.where(Order.chain == chain)
    due = session.scalars(query.with_for_update(skip_locked=True)).all()
    for order in due:
        order.late = _late(order, OrderStatus.EXPIRED, ())
        _move(session, order, OrderStatus.EXPIRED)
    return len(due)


def recompute(session: Session, order: Order, now: datetime | None = None) -> None:
    """Derive amounts, flags and status from the order's payments and the clock."""
    now = now or utcnow()
    live = [p for p in order.payments if p.status != PaymentStatus.REVERTED]
    seen = sum(p.amount for p in live)
    confirmed = sum(p.amount for p in live if p.status == PaymentStatus.CONFIRMED)
    order.amount_seen, order.amount_confirmed = seen, confirmed

    was_underpaid, was_overpaid = order.underpaid, order.overpaid
    order.underpaid = 0 < seen < order.amount
    order.overpaid = seen > order.amount
    if order.underpaid and not was_underpaid:
        announce(session, order, "order.underpaid")
    if order.overpaid and not was_overpaid:
        announce(session, order, "order.overpaid")

    on_time = sum(p.amount for p in live if not p.late)
    reopened = order.status == OrderStatus.EXPIRED and on_time >= order.amount
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED) and not reopened:
        # money on a closed order is recorded and flagged; the merchant decides
        order.late = _late(order, order.status, live)
        return
    # (reopened: paid on time after all, the money's block came before the expiry)
    if confirmed >= order.amount:
        target = OrderStatus.PAID
    elif seen >= order.amount:
        target = OrderStatus.CONFIRMING
    elif order.expires_at <= now:
        target = OrderStatus.EXPIRED
    else:
        target = OrderStatus.PENDING
    order.late = _late(order, target, live)
    if target != order.status:
        if target == OrderStatus.PAID:
            order.paid_at = now
        elif order.status == OrderStatus.PAID:
            order.paid_at = None
        _move(session, order, target)


def _late(order: Order, status: OrderStatus, live: Iterable[Payment]) -> bool:
    """Money after the expiry (by its block's time), or any money on a closed order."""
    if status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        return order.amount_seen > 0
    return any(p.late for p in live)


def _move(session: Session, order: Order, status: OrderStatus) -> None:
    order.status = status
    order.updated_at = utcnow()
    # going back to pending after a reorg is told by payment.reverted, not by its own event
    if status != OrderStatus.PENDING:
        announce(session, order, f"order.{status}")


def announce(session: Session, order: Order, type_: str, payment: Payment | None = None) -> None:
    """Record an event about ``order`` (or one of its payments), numbered by its version.

    A payment event carries the payment with the order as it now stands. Receivers order
    one order's events by the order's ``version``, whatever retries did to their arrival.
    """
    order.version += 1
    order.updated_at = utcnow()  # set here, so the event shows what the row will hold
    _record(session, order, type_, payment)


def _record(session: Session, order: Order, type_: str, payment: Payment | None = None) -> None:
    data = (
        schemas.ORDER.dump(order) if payment is None else schemas.PAYMENT_WITH_ORDER.dump(payment)
    )
    events.record(session, order.merchant_id, type_, data)
