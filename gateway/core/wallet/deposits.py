"""Deposits: tokens a merchant sends to its payout wallet, watched exactly like payments.

The watcher records a transfer to a payout wallet's address as a payment without an order;
confirmed, it credits the wallet's ledger account, and a reorg that takes it back debits it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core import events
from gateway.core.models import Payment
from gateway.core.wallet import ledger
from gateway.core.wallet.models import Account, PayoutWallet


def wallet_of(session: Session, payment: Payment) -> PayoutWallet:
    """The payout wallet a deposit went to."""
    return session.scalars(
        sa.select(PayoutWallet).where(PayoutWallet.id == payment.wallet_id)
    ).one()


def book(session: Session, payment: Payment, reverse: bool) -> None:
    """Credit a confirmed deposit to the wallet, or take back one a reorg removed."""
    wallet = wallet_of(session, payment)
    ledger.move(
        session,
        wallet.merchant_id,
        payment.chain,
        "deposit_reverted" if reverse else "deposit",
        -payment.amount if reverse else payment.amount,
        Account.WORLD,
        Account.PAYOUT,
        payment_id=payment.id,
        address=wallet.address,
        tx_hash=payment.tx_hash,
    )


def announce(session: Session, payment: Payment, event: str) -> None:
    """Tell the merchant a deposit counts; arrivals and reverts show in the balances."""
    if event != "payment.confirmed":
        return
    from gateway.core.wallet.schemas import DEPOSIT

    wallet = wallet_of(session, payment)
    events.record(session, wallet.merchant_id, "payout_wallet.deposit", DEPOSIT.dump(payment))
