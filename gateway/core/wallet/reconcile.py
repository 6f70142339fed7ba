"""Reconciliation: the ledger against the chain, address by address.

- A deposit address: what the ledger credited it (confirmed payments, less reverted ones)
  against the token transfers to it the chain shows up to the confirmed head.
- A payout wallet: what the ledger says it holds (available + reserved) against its
  on-chain balance, allowing for what is in flight: payouts already in a block but not yet
  final have left the chain balance and not the ledger; deposits not yet final have reached
  the chain balance and not the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import Order, Payment, PaymentStatus
from gateway.core.wallet.models import (
    Account,
    Asset,
    LedgerEntry,
    Payout,
    PayoutStatus,
    PayoutWallet,
)
from plugins.base import ChainDriver


@dataclass(frozen=True)
class Row:
    """One address compared: what the ledger says, what the chain says."""

    merchant_id: str
    chain: str
    kind: str
    address: str
    ledger: int
    chain_amount: int

    @property
    def difference(self) -> int:
        """Chain minus ledger, in base units; 0 when they agree."""
        return self.chain_amount - self.ledger


def deposit_addresses(
    session: Session,
    driver: ChainDriver,
    chain: str,
    start: int,
    confirmed: int,
    merchant_id: str | None = None,
) -> list[Row]:
    """Every order address of ``chain``: its ledger credits against its transfers on chain."""
    query = sa.select(Order.address, Order.merchant_id).where(Order.chain == chain)
    if merchant_id is not None:
        query = query.where(Order.merchant_id == merchant_id)
    owners = dict(session.execute(query).all())
    credited: dict[str, int] = defaultdict(int)
    entries = session.execute(
        sa.select(LedgerEntry.address, LedgerEntry.amount).where(
            LedgerEntry.chain == chain,
            LedgerEntry.asset == Asset.TOKEN,
            LedgerEntry.account == Account.RECEIVED,
        )
    )
    for address, amount in entries:
        credited[address] += amount
    on_chain: dict[str, int] = defaultdict(int)
    for first in range(start, confirmed + 1, driver.max_block_range):
        last = min(confirmed, first + driver.max_block_range - 1)
        scan = driver.scan(first, last, lambda seen: seen & owners.keys())
        for transfer in scan.transfers:
            if transfer.to_address in owners:
                on_chain[transfer.to_address] += transfer.amount
    return [
        Row(owners[a], chain, "deposit address", a, credited[a], on_chain[a])
        for a in sorted(owners)
        if credited[a] or on_chain[a]
    ]


def payout_wallets(
    session: Session, driver: ChainDriver, chain: str, merchant_id: str | None = None
) -> list[Row]:
    """Every payout wallet of ``chain``: the ledger, allowing for what is in flight,
    against the token balance the node reports."""
    query = sa.select(PayoutWallet).where(PayoutWallet.chain == chain)
    if merchant_id is not None:
        query = query.where(PayoutWallet.merchant_id == merchant_id)
    rows = []
    for wallet in session.scalars(query):
        held = sum(
            session.scalars(
                sa.select(LedgerEntry.amount).where(
                    LedgerEntry.merchant_id == wallet.merchant_id,
                    LedgerEntry.chain == chain,
                    LedgerEntry.asset == Asset.TOKEN,
                    LedgerEntry.account.in_((Account.PAYOUT, Account.RESERVED)),
                )
            )
        )
        mined_unfinal = sum(
            session.scalars(
                sa.select(Payout.amount).where(
                    Payout.wallet_id == wallet.id,
                    Payout.status == PayoutStatus.BROADCAST,
                    Payout.block_number.is_not(None),
                )
            )
        )
        arriving = sum(
            session.scalars(
                sa.select(Payment.amount).where(
                    Payment.wallet_id == wallet.id, Payment.status == PaymentStatus.CONFIRMING
                )
            )
        )
        expected = held - mined_unfinal + arriving
        rows.append(
            Row(
                wallet.merchant_id,
                chain,
                "payout wallet",
                wallet.address,
                expected,
                driver.balance(wallet.address),
            )
        )
    return rows
