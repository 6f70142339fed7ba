"""The event feed: a merchant's events in a stable order that a cursor never skips.

Events are ordered by (writer's transaction id, seq) (see ``models.WriterTransaction``).
Reading "after" a cursor shows only settled events: on PostgreSQL those whose writing
transaction is older than every transaction still running, so no event can later appear
behind the cursor. An open write transaction holds the feed back; it never loses an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import Event

# a test sent from the dashboard to one endpoint: no change, so not in the feed
HIDDEN = ("ping",)


@dataclass(frozen=True)
class Position:
    """Where an event sits in the feed; a cursor is the position of the last event read."""

    txid: int
    seq: int


START = Position(-1, 0)


@dataclass
class Filters:
    """Which of a merchant's events to read."""

    types: Sequence[str] = ()
    order_id: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None


def _key() -> sa.Tuple:
    return sa.tuple_(Event.txid, Event.seq)


def _settled(session: Session) -> sa.ColumnElement[bool]:
    """Events no transaction still running can be ordered before."""
    if session.get_bind().dialect.name != "postgresql":
        return sa.true()  # one writer at a time: committed means settled
    oldest_running = sa.text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return Event.txid < oldest_running


def _query(merchant_id: str, filters: Filters) -> sa.Select:
    query = sa.select(Event).where(Event.merchant_id == merchant_id, Event.type.not_in(HIDDEN))
    if filters.types:
        query = query.where(Event.type.in_(list(filters.types)))
    if filters.order_id:
        # order.* events carry the order; payment.* ones name it beside the payment
        order_id = filters.order_id
        query = query.where(
            sa.or_(
                sa.and_(Event.type.startswith("order."), _json_text("id") == order_id),
                sa.and_(Event.type.startswith("payment."), _json_text("order_id") == order_id),
                sa.and_(Event.type.startswith("payout."), _json_text("order_id") == order_id),
            )
        )
    if filters.created_gte is not None:
        query = query.where(Event.created_at >= filters.created_gte)
    if filters.created_lt is not None:
        query = query.where(Event.created_at < filters.created_lt)
    return query


def _json_text(name: str) -> sa.ColumnElement[str]:
    return Event.data[name].as_string()


def position(session: Session, merchant_id: str, event_id: str) -> Position | None:
    """The position of one of the merchant's events, or None if it is not theirs or gone."""
    row = session.execute(
        sa.select(Event.txid, Event.seq).where(
            Event.id == event_id, Event.merchant_id == merchant_id
        )
    ).first()
    return None if row is None else Position(row.txid, row.seq)


def tail(session: Session, merchant_id: str) -> Position:
    """The position of the merchant's newest settled event: a stream "from now" starts there."""
    row = session.execute(
        sa.select(Event.txid, Event.seq)
        .where(Event.merchant_id == merchant_id, _settled(session))
        .order_by(Event.txid.desc(), Event.seq.desc())
        .limit(1)
    ).first()
    return START if row is None else Position(row.txid, row.seq)


def after(
    session: Session, merchant_id: str, cursor: Position, filters: Filters, limit: int
) -> list[Event]:
    """Up to ``limit`` settled events after ``cursor``, oldest first."""
    query = _query(merchant_id, filters).where(
        _key() > sa.tuple_(sa.literal(cursor.txid), sa.literal(cursor.seq)), _settled(session)
    )
    return list(session.scalars(query.order_by(Event.txid, Event.seq).limit(limit)))


def before(
    session: Session, merchant_id: str, cursor: Position | None, filters: Filters, limit: int
) -> list[Event]:
    """Up to ``limit`` events before ``cursor`` (or the newest ones), newest first."""
    query = _query(merchant_id, filters)
    if cursor is not None:
        query = query.where(_key() < sa.tuple_(sa.literal(cursor.txid), sa.literal(cursor.seq)))
    return list(session.scalars(query.order_by(Event.txid.desc(), Event.seq.desc()).limit(limit)))


def position_of(event: Event) -> Position:
    """The feed position of a loaded event."""
    return Position(event.txid, event.seq)


def held(session: Session, merchant_id: str, cursor: Position) -> bool:
    """Whether events after ``cursor`` are committed but wait for an older transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    waiting = sa.select(Event.seq).where(
        Event.merchant_id == merchant_id,
        _key() > sa.tuple_(sa.literal(cursor.txid), sa.literal(cursor.seq)),
        sa.not_(_settled(session)),
    )
    return session.scalar(sa.select(waiting.exists())) or False
