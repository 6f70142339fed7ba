"""The double-entry ledger: every movement of money as postings that sum to zero.

Entries are only ever added. A balance is the sum of an account's entries; a mistake or a
reorg is undone by a reversing movement, never by changing a row.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import new_id
from gateway.core.wallet.models import Account, Asset, LedgerEntry


class Unbalanced(ValueError):
    """A movement whose postings do not sum to zero."""


def post(
    session: Session,
    merchant_id: str,
    chain: str,
    kind: str,
    postings: list[tuple[Account, int]],
    asset: Asset = Asset.TOKEN,
    **refs: Any,
) -> str:
    """Record one movement (postings of one asset that sum to zero); its id.

    ``refs`` name what the movement is about: payment_id, payout_id, order_id, address,
    tx_hash.
    """
    if sum(amount for _, amount in postings) != 0 or any(a == 0 for _, a in postings):
        raise Unbalanced(f"{kind}: postings {postings} do not balance")
    movement = new_id("mov")
    for account, amount in postings:
        session.add(
            LedgerEntry(
                movement=movement,
                merchant_id=merchant_id,
                chain=chain,
                asset=asset,
                account=account,
                amount=amount,
                kind=kind,
                **refs,
            )
        )
    return movement


def move(
    session: Session,
    merchant_id: str,
    chain: str,
    kind: str,
    amount: int,
    source: Account,
    target: Account,
    asset: Asset = Asset.TOKEN,
    **refs: Any,
) -> str:
    """Move ``amount`` from ``source`` to ``target``: the common two-posting movement."""
    return post(
        session, merchant_id, chain, kind, [(source, -amount), (target, amount)], asset, **refs
    )


def balance(
    session: Session, merchant_id: str, chain: str, account: Account, asset: Asset = Asset.TOKEN
) -> int:
    """The sum of an account's entries."""
    amounts = session.scalars(
        sa.select(LedgerEntry.amount).where(
            LedgerEntry.merchant_id == merchant_id,
            LedgerEntry.chain == chain,
            LedgerEntry.asset == asset,
            LedgerEntry.account == account,
        )
    )
    return sum(amounts)


def balances(session: Session, merchant_id: str) -> dict[tuple[str, str, str], int]:
    """Every account's balance of a merchant, by (chain, asset, account)."""
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    rows = session.execute(
        sa.select(
            LedgerEntry.chain, LedgerEntry.asset, LedgerEntry.account, LedgerEntry.amount
        ).where(LedgerEntry.merchant_id == merchant_id)
    )
    for chain, asset, account, amount in rows:
        totals[chain, asset, account] += amount
    return dict(totals)
