"""Read-only views of the back office: balances per chain, deposit addresses, the ledger's
movements. Queries only: nothing here writes, and nothing here asks a node.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from bip_utils import Base58Decoder
from sqlalchemy.orm import Session

from gateway.core.models import HdAccount, Order, Payment, PaymentStatus
from gateway.core.wallet import ledger
from gateway.core.wallet.models import Account, Asset, LedgerEntry, Payout, PayoutWallet

#: Decimals of each chain family's native currency (ETH and its kin: wei; TRX: sun).
NATIVE_DECIMALS = {"evm": 18, "tron": 6}
#: BIP-44 coin type of each family's deposit addresses (every EVM chain derives as Ethereum).
COIN_TYPES = {"evm": 60, "tron": 195}
_HARDENED = 2**31
_ENTRIES = LedgerEntry.__table__


# -- balances --------------------------------------------------------------------------


@dataclass
class PayoutSide:
    """The payout wallet's side of a chain: tokens it may pay, tokens held for payouts in
    flight, fees its payouts burnt, and its native balance (``gas``, filled from the node)."""

    decimals: int | None
    native_decimals: int | None
    wallet_id: str | None = None
    address: str | None = None
    mode: str | None = None
    available: int = 0
    reserved: int = 0
    fees_paid: int = 0
    gas: int | None = None


@dataclass
class ChainBalance:
    """What a merchant holds on one chain, in base units."""

    chain: str
    decimals: int | None
    received: int
    pending: int
    payout: PayoutSide


def pending(session: Session, merchant_id: str) -> dict[str, int]:
    """Money of confirming payments to the merchant's orders, by chain (not yet counted)."""
    totals: dict[str, int] = defaultdict(int)
    rows = session.execute(
        sa.select(Payment.chain, Payment.amount)
        .join(Order, Order.id == Payment.order_id)
        .where(Order.merchant_id == merchant_id, Payment.status == PaymentStatus.CONFIRMING)
    )
    for chain, amount in rows:
        totals[chain] += amount
    return dict(totals)


def balances(
    session: Session, merchant_id: str, chains: dict[str, tuple[int | None, int | None]]
) -> list[ChainBalance]:
    """One ChainBalance per chain in ``chains`` (name -> (token decimals, native decimals))
    and per other chain the merchant has money or a payout wallet on, sorted by name."""
    booked = ledger.balances(session, merchant_id)
    waiting = pending(session, merchant_id)
    wallets = {
        w.chain: w
        for w in session.scalars(
            sa.select(PayoutWallet).where(PayoutWallet.merchant_id == merchant_id)
        )
    }
    names = set(chains) | {chain for chain, _, _ in booked} | set(waiting) | set(wallets)
    found = []
    for chain in sorted(names):
        decimals, native = chains.get(chain, (None, None))
        if decimals is None:
            decimals = known_decimals(session, chain)

        def units(account: Account, asset: Asset = Asset.TOKEN, chain: str = chain) -> int:
            return booked.get((chain, asset, account), 0)

        wallet = wallets.get(chain)
        side = PayoutSide(
            decimals=decimals,
            native_decimals=native,
            available=units(Account.PAYOUT),
            reserved=units(Account.RESERVED),
            fees_paid=units(Account.FEES, Asset.NATIVE),
        )
        if wallet is not None:
            side.wallet_id, side.address, side.mode = wallet.id, wallet.address, wallet.mode
        found.append(
            ChainBalance(
                chain=chain,
                decimals=decimals,
                received=units(Account.RECEIVED),
                pending=waiting.get(chain, 0),
                payout=side,
            )
        )
    return found


def known_decimals(session: Session, chain: str) -> int | None:
    """The token decimals a payout wallet, order or payout of ``chain`` was made with, when
    the node that would say cannot be asked."""
    for model in (PayoutWallet, Order, Payout):
        found = session.scalar(sa.select(model.decimals).where(model.chain == chain).limit(1))
        if found is not None:
            return found
    return None


# -- deposit addresses -------------------------------------------------------------------


@dataclass(frozen=True)
class DepositAddress:
    """A watch-only deposit address with confirmed money, and where it sits below the xpub."""

    id: str  # the order's: one order per address
    chain: str
    address: str
    order_id: str
    received: int
    decimals: int
    hd_index: int
    #: ``0/<index>``: the path below the registered account-level xpub
    relative_path: str
    #: ``m/44'/<coin>'/<account>'/0/<index>``, None when the xpub does not say its account
    derivation_path: str | None


def with_money(merchant_id: str, chain: str | None = None) -> sa.Select:
    """The merchant's orders that received confirmed money (newest first, for page())."""
    query = sa.select(Order).where(Order.merchant_id == merchant_id, Order.amount_confirmed != 0)
    return query if chain is None else query.where(Order.chain == chain)


def deposit_addresses(session: Session, orders: Sequence[Order]) -> list[DepositAddress]:
    """The deposit address of each order, with its derivation path."""
    accounts = {
        account.id: account
        for account in session.scalars(
            sa.select(HdAccount).where(HdAccount.id.in_({o.hd_account_id for o in orders}))
        )
    }
    found = []
    for order in orders:
        account = accounts[order.hd_account_id]
        number = account_number(account.xpub)
        coin = COIN_TYPES.get(account.family)
        full = None
        if number is not None and coin is not None:
            full = f"m/44'/{coin}'/{number}'/0/{order.hd_index}"
        found.append(
            DepositAddress(
                id=order.id,
                chain=order.chain,
                address=order.address,
                order_id=order.id,
                received=order.amount_confirmed,
                decimals=order.decimals,
                hd_index=order.hd_index,
                relative_path=f"0/{order.hd_index}",
                derivation_path=full,
            )
        )
    return found


def account_number(xpub: str) -> int | None:
    """The account an account-level xpub says it is (its hardened child number), or None.

    Informative only: the number can be rewritten without changing a single address, so the
    path below the xpub (``0/<index>``) is what identifies the key.
    """
    try:
        raw = Base58Decoder.CheckDecode(xpub.strip())
    except Exception:  # bip_utils raises several unrelated types for bad input
        return None
    if len(raw) != 78 or raw[4] != 3:
        return None
    child = int.from_bytes(raw[9:13], "big")
    return child - _HARDENED if child >= _HARDENED else None


# -- the ledger's movements --------------------------------------------------------------


@dataclass
class Movement:
    """One movement of the ledger: its postings (same kind, chain, asset and references)."""

    id: str
    kind: str
    chain: str
    asset: str
    postings: list[tuple[str, int]]
    payment_id: str | None
    payout_id: str | None
    order_id: str | None
    address: str | None
    tx_hash: str | None
    created_at: datetime
    #: the asset's decimals, for whoever shows the amounts (set by the caller)
    decimals: int | None = field(default=None)

    @property
    def amount(self) -> int:
        """Signed: how much what the merchant holds changed (received, payout wallet and
        reserved count; fees are spent). Zero between the merchant's own accounts."""
        total = 0
        for account, units in self.postings:
            if account == Account.FEES:
                total -= units
            elif account != Account.WORLD:
                total += units
        return total

    @property
    def moved(self) -> int:
        """How much moved from ``from_account`` to ``to_account`` (not signed)."""
        return sum(units for _, units in self.postings if units > 0)

    @property
    def from_account(self) -> str:
        """The account the money left (its posting is negative)."""
        return ",".join(a for a, units in self.postings if units < 0)

    @property
    def to_account(self) -> str:
        """The account the money reached."""
        return ",".join(a for a, units in self.postings if units > 0)


@dataclass(frozen=True)
class MovementFilter:
    """Which movements: all their postings share chain, kind and order; the time is the
    first posting's."""

    chain: str | None = None
    kind: str | None = None
    order_id: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None

    def where(self, merchant_id: str) -> list[Any]:
        """Conditions on postings: every movement that matches has at least one posting
        that does (its first, for the time range), so nothing is missed."""
        conditions: list[Any] = [LedgerEntry.merchant_id == merchant_id]
        if self.chain is not None:
            conditions.append(LedgerEntry.chain == self.chain)
        if self.kind is not None:
            conditions.append(LedgerEntry.kind == self.kind)
        if self.order_id is not None:
            conditions.append(LedgerEntry.order_id == self.order_id)
        if self.created_gte is not None:
            conditions.append(LedgerEntry.created_at >= self.created_gte)
        if self.created_lt is not None:
            conditions.append(LedgerEntry.created_at < self.created_lt)
        return conditions

    def matches(self, entry: Any) -> bool:
        """Whether a posting satisfies ``where`` (the same test, in Python)."""
        return (self.created_gte is None or entry.created_at >= self.created_gte) and (
            self.created_lt is None or entry.created_at < self.created_lt
        )

    def keeps(self, created_at: datetime) -> bool:
        """Whether a movement made at ``created_at`` is in the time range."""
        return (self.created_gte is None or created_at >= self.created_gte) and (
            self.created_lt is None or created_at < self.created_lt
        )


class NoMovement(LookupError):
    """A cursor that names no movement of the merchant."""


def position(session: Session, merchant_id: str, movement: str, where: MovementFilter) -> int:
    """Where ``movement`` sits in the newest-first order under ``where`` (for a cursor)."""
    entries = session.execute(
        sa.select(_ENTRIES).where(
            _ENTRIES.c.movement == movement, _ENTRIES.c.merchant_id == merchant_id
        )
    ).all()
    if not entries:
        raise NoMovement(movement)
    matching = [e.seq for e in entries if where.matches(e)]
    return max(matching or [e.seq for e in entries])


def movements(
    session: Session,
    merchant_id: str,
    where: MovementFilter,
    before: int | None = None,
    batch: int = 500,
    release: bool = False,
) -> Iterator[Movement]:
    """The merchant's movements, newest first, below position ``before``, in constant memory.

    ``release`` ends the session's transaction after each batch (give it a session that
    only reads): a long export then never holds a lock or an old snapshot, and what is
    added meanwhile is newer than the first batch, so it never shows up half-way.

    Postings are read newest first ``batch`` at a time. A movement's position is its newest
    posting that matches the filter; it is given out with the batch that holds that
    posting, complete (all its postings read by movement id), so however the postings of
    concurrent movements interleave, each movement comes exactly once.
    """
    conditions = where.where(merchant_id)
    upper = before
    while True:
        query = sa.select(LedgerEntry.seq, LedgerEntry.movement).where(*conditions)
        if upper is not None:
            query = query.where(LedgerEntry.seq < upper)
        rows = session.execute(query.order_by(LedgerEntry.seq.desc()).limit(batch)).all()
        if not rows:
            if release:
                session.rollback()
            return
        ids = list(dict.fromkeys(movement for _, movement in rows))
        # rows, not ORM objects: nothing read stays in the session, memory stays flat
        entries = session.execute(
            sa.select(_ENTRIES)
            .where(_ENTRIES.c.movement.in_(ids), _ENTRIES.c.merchant_id == merchant_id)
            .order_by(_ENTRIES.c.seq)
        ).all()
        grouped: dict[str, list[Any]] = defaultdict(list)
        for entry in entries:
            grouped[entry.movement].append(entry)
        found = []
        for movement, postings in grouped.items():
            at = max(e.seq for e in postings if where.matches(e))
            if upper is not None and at >= upper:
                continue  # given out with an earlier batch (or page)
            made = postings[0].created_at
            if where.keeps(made):
                found.append((at, _movement(movement, postings)))
        found.sort(key=lambda item: item[0], reverse=True)
        if release:
            session.rollback()
        for _, made in found:
            yield made
        if len(rows) < batch:
            return
        upper = rows[-1].seq


def _movement(movement: str, postings: Iterable[Any]) -> Movement:
    entries = list(postings)
    first = entries[0]

    def ref(name: str) -> Any:
        return next((getattr(e, name) for e in entries if getattr(e, name)), None)

    return Movement(
        id=movement,
        kind=first.kind,
        chain=first.chain,
        asset=first.asset,
        postings=[(e.account, e.amount) for e in entries],
        payment_id=ref("payment_id"),
        payout_id=ref("payout_id"),
        order_id=ref("order_id"),
        address=ref("address"),
        tx_hash=ref("tx_hash"),
        created_at=first.created_at,
    )
