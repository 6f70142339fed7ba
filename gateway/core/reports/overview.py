"""The overview's figures: volume per chain, open orders, watcher positions, daily volume
and confirmation times for the charts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import ChainCursor, Order, OrderStatus, Payment, ScannedBlock
from gateway.core.orders import OPEN
from gateway.core.wallet import ledger
from gateway.core.wallet.models import Account, Asset, Payout, PayoutWallet


@dataclass(frozen=True)
class Volume:
    """Paid orders of one chain over a period: their sum in base units and their count."""

    chain: str
    units: int
    decimals: int
    count: int

    @property
    def amount(self) -> Decimal:
        """The sum in USDT."""
        return Decimal(self.units).scaleb(-self.decimals)


@dataclass(frozen=True)
class WatcherPosition:
    """Where a chain's watcher is: its next block and the newest block it scanned."""

    chain: str
    next_block: int
    updated_at: datetime
    last_block_time: datetime | None


def volumes(session: Session, merchant_id: str, since: datetime) -> list[Volume]:
    """Paid volume per chain of orders paid since ``since``."""
    rows = session.execute(
        sa.select(Order.chain, Order.amount, Order.decimals).where(
            Order.merchant_id == merchant_id,
            Order.status == OrderStatus.PAID,
            Order.paid_at >= since,
        )
    )
    # amounts are stored as digits (BaseUnits), summed here rather than by the database
    totals: dict[str, list[int]] = {}
    for chain, amount, decimals in rows:
        entry = totals.setdefault(chain, [0, decimals, 0])
        entry[0] += amount
        entry[2] += 1
    return [Volume(chain, *totals[chain]) for chain in sorted(totals)]


def open_orders(session: Session, merchant_id: str) -> dict[str, int]:
    """How many orders are pending and confirming."""
    rows = session.execute(
        sa.select(Order.status, sa.func.count())
        .where(Order.merchant_id == merchant_id, Order.status.in_(OPEN))
        .group_by(Order.status)
    )
    counts = {str(status): 0 for status in OPEN}
    counts.update({status: count for status, count in rows})
    return counts


def watchers(session: Session) -> list[WatcherPosition]:
    """Every chain's cursor with the chain time of the newest block it scanned."""
    newest = (
        sa.select(ScannedBlock.chain, sa.func.max(ScannedBlock.number).label("number"))
        .group_by(ScannedBlock.chain)
        .subquery()
    )
    rows = session.execute(
        sa.select(ChainCursor.chain, ChainCursor.next_block, ChainCursor.updated_at).order_by(
            ChainCursor.chain
        )
    ).all()
    stamps = dict(
        session.execute(
            sa.select(ScannedBlock.chain, ScannedBlock.timestamp).join(
                newest,
                sa.and_(
                    ScannedBlock.chain == newest.c.chain, ScannedBlock.number == newest.c.number
                ),
            )
        ).all()
    )
    return [
        WatcherPosition(
            chain,
            next_block,
            updated_at,
            datetime.fromtimestamp(stamps[chain], tz=UTC) if chain in stamps else None,
        )
        for chain, next_block, updated_at in rows
    ]


def daily_volume(
    session: Session, merchant_id: str, today: date, days: int = 30
) -> list[tuple[date, Decimal]]:
    """USDT paid per UTC day, oldest first, ``days`` days up to ``today``, zeros included."""
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    rows = session.execute(
        sa.select(Order.paid_at, Order.amount, Order.decimals).where(
            Order.merchant_id == merchant_id,
            Order.status == OrderStatus.PAID,
            Order.paid_at >= start,
        )
    )
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for paid_at, amount, decimals in rows:
        totals[paid_at.date()] += Decimal(amount).scaleb(-decimals)
    return [(first + timedelta(days=n), totals[first + timedelta(days=n)]) for n in range(days)]


def confirmation_seconds(session: Session, merchant_id: str, since: datetime) -> list[float]:
    """Seconds from when each payment was seen to when it was confirmed."""
    rows = session.execute(
        sa.select(Payment.created_at, Payment.confirmed_at)
        .join(Order, Order.id == Payment.order_id)
        .where(
            Order.merchant_id == merchant_id,
            Payment.confirmed_at.is_not(None),
            Payment.confirmed_at >= since,
        )
    )
    return [max(0.0, (done - seen).total_seconds()) for seen, done in rows]


@dataclass(frozen=True)
class Balance:
    """A chain's token balances from the ledger, in USDT."""

    chain: str
    received: Decimal
    available: Decimal
    reserved: Decimal


def balances(session: Session, merchant_id: str) -> list[Balance]:
    """Received, payable and reserved USDT per chain, from the ledger's entries."""
    booked = ledger.balances(session, merchant_id)
    found = []
    for chain in sorted({chain for chain, asset, _ in booked if asset == Asset.TOKEN}):
        decimals = decimals_of(session, chain) or 0

        def usdt(account: Account, chain: str = chain, decimals: int = decimals) -> Decimal:
            return Decimal(booked.get((chain, Asset.TOKEN, account), 0)).scaleb(-decimals)

        found.append(
            Balance(chain, usdt(Account.RECEIVED), usdt(Account.PAYOUT), usdt(Account.RESERVED))
        )
    return found


def decimals_of(session: Session, chain: str) -> int | None:
    """The token decimals an order, payout wallet or payout of ``chain`` was made with."""
    for model in (Order, PayoutWallet, Payout):
        found = session.scalar(sa.select(model.decimals).where(model.chain == chain).limit(1))
        if found is not None:
            return found
    return None
