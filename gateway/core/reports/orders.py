"""Finding orders (filters and a cursor) and what happened to one: its events in order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from gateway.core.models import Event, Order

PAGE = 25


@dataclass(frozen=True)
class OrderFilter:
    """What the orders list is narrowed to; empty fields do not filter."""

    status: str = ""
    chain: str = ""
    search: str = ""  # part of the reference, or an order id or address
    created_from: datetime | None = None
    created_to: datetime | None = None


def search(
    session: Session, merchant_id: str, where: OrderFilter, after: str | None, limit: int = PAGE
) -> tuple[list[Order], str | None]:
    """One page of the merchant's orders, newest first, and the cursor of the next page."""
    query = sa.select(Order).where(Order.merchant_id == merchant_id)
    if where.status:
        query = query.where(Order.status == where.status)
    if where.chain:
        query = query.where(Order.chain == where.chain)
    if where.search:
        text = where.search.strip()
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                Order.reference.ilike(like, escape="\\"),
                Order.id == text,
                Order.address == text,
            )
        )
    if where.created_from is not None:
        query = query.where(Order.created_at >= where.created_from)
    if where.created_to is not None:
        query = query.where(Order.created_at < where.created_to)
    if after:
        seq = session.scalar(
            sa.select(Order.seq).where(Order.id == after, Order.merchant_id == merchant_id)
        )
        if seq is not None:
            query = query.where(Order.seq < seq)
    found = list(session.scalars(query.order_by(Order.seq.desc()).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].id if more else None)


def load(session: Session, merchant_id: str, order_id: str) -> Order | None:
    """The merchant's order with its payments; None for another merchant's."""
    return session.scalar(
        sa.select(Order)
        .where(Order.id == order_id, Order.merchant_id == merchant_id)
        .options(selectinload(Order.payments))
    )


def events(session: Session, order: Order) -> list[Event]:
    """The order's events, oldest first (its own and its payments')."""
    about = sa.or_(
        Event.data["id"].as_string() == order.id,
        Event.data["order_id"].as_string() == order.id,
    )
    return list(
        session.scalars(
            sa.select(Event)
            .where(
                Event.merchant_id == order.merchant_id,
                Event.created_at >= order.created_at,
                about,
            )
            .order_by(Event.seq)
        )
    )
