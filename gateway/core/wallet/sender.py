"""Sending payouts exactly once: sign, store, broadcast, follow to confirmation.

One Sender per chain runs in the chain's watcher (so one process at a time, under its
lease). The rules that keep a payout from being paid twice:

- A signed transaction is stored (committed) before it is broadcast; a timeout, a crash or a
  node error later sends those same bytes again, never new ones.
- EVM: every payout of a wallet gets its own nonce from the wallet row; a stuck one is
  replaced with the same nonce and a higher fee, and only one of the two can be mined.
- TRON: a transaction is signed again only once the node shows it EXPIRED, i.e. its
  expiration has passed the head without it in a block: it can never land any more.
- Node reads happen outside database transactions; each decision is one short transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from gateway.core import events
from gateway.core.models import utcnow
from gateway.core.wallet import ledger, payouts
from gateway.core.wallet.keys import KeyRing, KeysUnavailable, WrongPassphrase
from gateway.core.wallet.models import (
    Account,
    Asset,
    Payout,
    PayoutStatus,
    PayoutTransaction,
    PayoutWallet,
    WalletMode,
)
from gateway.core.wallet.schemas import LOW_GAS
from plugins.base import ChainDriver, DriverError, Outgoing, Rejected, Signed, Tip, TxState

log = logging.getLogger(__name__)


class Sender:
    """Moves one chain's payouts along: approved -> signed -> broadcast -> confirmed."""

    def __init__(
        self,
        chain: str,
        driver: ChainDriver,
        sessions: sessionmaker,
        ring: KeyRing,
        settings: Mapping[str, Any],
        gas_floor: int | None = None,
    ):
        self.chain, self.driver, self.sessions, self.ring = chain, driver, sessions, ring
        self.stuck_after = timedelta(seconds=settings["stuck_after_seconds"])
        self.bump = settings["fee_bump_percent"]
        self.gas_floor = gas_floor

    def run_once(self, tip: Tip) -> None:
        """One pass over the chain's payouts in flight; node trouble waits for the next."""
        # follow before broadcast: a replacement made while following goes out this pass
        for step in (self._prepare, self._follow, self._broadcast, self._check_gas):
            try:
                step(tip)
            except DriverError as exc:
                log.warning("%s payouts: node error (%s); trying again later", self.chain, exc)

    # -- approved: sign (hot) or prepare for the merchant's signature (external) ----------

    def _prepare(self, tip: Tip) -> None:
        with self.sessions() as session:
            waiting = session.execute(
                sa.select(Payout.id, PayoutWallet.mode)
                .join(PayoutWallet, PayoutWallet.id == Payout.wallet_id)
                .where(
                    Payout.chain == self.chain,
                    Payout.status == PayoutStatus.APPROVED,
                    Payout.tx_hash.is_(None),
                    Payout.unsigned.is_(None),
                )
                .order_by(Payout.seq)
            ).all()
        for payout_id, mode in waiting:
            if mode == WalletMode.HOT:
                self._sign(payout_id)
            else:
                self._unsigned(payout_id)

    def _build(self, payout: Payout, wallet: PayoutWallet, nonce: int | None, bump: int = 0):
        return self.driver.build_transfer(
            wallet.address, payout.to_address, payout.amount, nonce=nonce, fee_bump=bump
        )

    def _sign(self, payout_id: str) -> None:
        payout, wallet = self._load(payout_id)
        try:
            key = self.ring.open(wallet.keystore or "")
        except (KeysUnavailable, WrongPassphrase) as exc:
            self._note(payout_id, f"cannot sign: {exc}")
            return
        # the wallet's next nonce; for its first payout the node's count of the account
        built = self._build(payout, wallet, wallet.next_nonce)
        signed = self.driver.sign(built, key)
        del key
        self._store(payout_id, signed, built.fields.get("nonce"))

    def _unsigned(self, payout_id: str) -> None:
        payout, wallet = self._load(payout_id)
        built = self._build(payout, wallet, wallet.next_nonce)
        nonce = built.fields.get("nonce")
        with self.sessions() as session, session.begin():
            payout = self._locked(session, payout_id)
            wallet = session.get(PayoutWallet, wallet.seq, with_for_update=True)
            payout.unsigned, payout.expected, payout.nonce = built.unsigned, _expected(built), nonce
            if nonce is not None:
                wallet.next_nonce = nonce + 1

    def _store(self, payout_id: str, signed: Signed, nonce: int | None) -> None:
        """Commit a signed transaction before anyone may broadcast it."""
        with self.sessions() as session, session.begin():
            payout = self._locked(session, payout_id)
            if payout.status != PayoutStatus.APPROVED:
                return  # cancelled meanwhile: the bytes are dropped, never sent
            wallet = session.scalar(
                sa.select(PayoutWallet).where(PayoutWallet.id == payout.wallet_id).with_for_update()
            )
            session.add(
                PayoutTransaction(
                    payout_id=payout.id,
                    chain=self.chain,
                    tx_hash=signed.tx_hash,
                    raw=signed.raw,
                    nonce=nonce,
                )
            )
            payout.tx_hash, payout.nonce, payout.failure = signed.tx_hash, nonce, None
            if nonce is not None and (wallet.next_nonce or 0) <= nonce:
                wallet.next_nonce = nonce + 1

    # -- signed: broadcast (again, the same bytes, until the node has them) -----------------

    def _broadcast(self, tip: Tip) -> None:
        with self.sessions() as session:
            unsent = session.execute(
                sa.select(PayoutTransaction.seq, PayoutTransaction.raw, Payout.id)
                .join(Payout, Payout.id == PayoutTransaction.payout_id)
                .where(
                    PayoutTransaction.chain == self.chain,
                    PayoutTransaction.broadcast_at.is_(None),
                    PayoutTransaction.expired_at.is_(None),
                    Payout.status.in_((PayoutStatus.APPROVED, PayoutStatus.BROADCAST)),
                )
                .order_by(PayoutTransaction.seq)
            ).all()
        for seq, raw, payout_id in unsent:
            signed = self.driver.decode(raw)
            try:
                self.driver.broadcast(signed)
            except Rejected as exc:
                self._rejected(payout_id, signed, str(exc))
                continue
            with self.sessions() as session, session.begin():
                sent = session.get(PayoutTransaction, seq, with_for_update=True)
                sent.broadcast_at = utcnow()
                payout = self._locked(session, payout_id)
                if payout.status == PayoutStatus.APPROVED:
                    payout.status, payout.broadcast_at = PayoutStatus.BROADCAST, utcnow()
                    payouts.announce(session, payout, "payout.broadcast")

    def _rejected(self, payout_id: str, signed: Signed, reason: str) -> None:
        """The node refused the bytes for good: unless one of its transactions is on chain
        anyway, or it merely expired unsent (then it is signed again), the payout failed
        and its reserve goes back."""
        if self._mined(payout_id) is not None:
            return
        if self.driver.transaction_status(signed.tx_hash, signed.raw).state == TxState.EXPIRED:
            self._expired(payout_id)
            return
        with self.sessions() as session, session.begin():
            payout = self._locked(session, payout_id)
            if payout.status not in (PayoutStatus.APPROVED, PayoutStatus.BROADCAST):
                return
            self._fail(session, payout, f"rejected by the node: {reason}")
            if payout.nonce is not None:
                # its nonce was never used on chain: the next payout asks the node again
                # rather than leave a gap no later transaction could pass
                session.execute(
                    sa.update(PayoutWallet)
                    .where(PayoutWallet.id == payout.wallet_id)
                    .values(next_nonce=None)
                )

    # -- broadcast: follow until final --------------------------------------------------

    def _follow(self, tip: Tip) -> None:
        with self.sessions() as session:
            flying = session.scalars(
                sa.select(Payout.id).where(
                    Payout.chain == self.chain, Payout.status == PayoutStatus.BROADCAST
                )
            ).all()
        for payout_id in flying:
            self._follow_one(payout_id, tip)

    def _mined(self, payout_id: str):
        """(tx hash, status) of the payout's transaction that is in a block, if any."""
        with self.sessions() as session:
            sent = session.execute(
                sa.select(PayoutTransaction.tx_hash, PayoutTransaction.raw).where(
                    PayoutTransaction.payout_id == payout_id
                )
            ).all()
        for tx_hash, raw in sent:
            status = self.driver.transaction_status(tx_hash, raw)
            if status.state in (TxState.MINED, TxState.FAILED):
                return tx_hash, status
        return None

    def _follow_one(self, payout_id: str, tip: Tip) -> None:
        mined = self._mined(payout_id)
        if mined is None:
            self._unmined(payout_id, tip)
            return
        tx_hash, status = mined
        final = status.block_number is not None and status.block_number <= tip.confirmed
        canonical = final and (self.driver.block(status.block_number) or None)
        with self.sessions() as session, session.begin():
            payout = self._locked(session, payout_id)
            if payout.status != PayoutStatus.BROADCAST:
                return
            payout.tx_hash, payout.block_number = tx_hash, status.block_number
            payout.block_hash = status.block_hash
            if not final or canonical is None or canonical.hash != status.block_hash:
                return  # in a block, not yet deep enough (or the block is being replaced)
            payout.fee_paid = status.fee
            if status.fee:
                ledger.move(
                    session,
                    payout.merchant_id,
                    payout.chain,
                    "fee",
                    status.fee,
                    Account.WORLD,
                    Account.FEES,
                    Asset.NATIVE,
                    payout_id=payout.id,
                    tx_hash=tx_hash,
                )
            if status.state == TxState.FAILED:
                self._fail(session, payout, "the transaction reverted on chain")
                return
            payout.status, payout.confirmed_at = PayoutStatus.CONFIRMED, utcnow()
            ledger.move(
                session,
                payout.merchant_id,
                payout.chain,
                "payout_sent",
                payout.amount,
                Account.RESERVED,
                Account.WORLD,
                payout_id=payout.id,
                order_id=payout.order_id,
                address=payout.to_address,
                tx_hash=tx_hash,
            )
            payouts.announce(session, payout, "payout.confirmed")

    def _unmined(self, payout_id: str, tip: Tip) -> None:
        """No transaction of the payout is in a block: wait, replace, sign again or resend."""
        with self.sessions() as session, session.begin():
            payout = self._locked(session, payout_id)
            # a reorg took its block: the payout is on its way again, not lost
            payout.block_number = payout.block_hash = None
            newest = session.scalar(
                sa.select(PayoutTransaction)
                .where(PayoutTransaction.payout_id == payout_id)
                .order_by(PayoutTransaction.seq.desc())
                .limit(1)
            )
            wallet = session.scalar(
                sa.select(PayoutWallet).where(PayoutWallet.id == payout.wallet_id)
            )
            mode, raw, sent_at, nonce = wallet.mode, newest.raw, newest.broadcast_at, newest.nonce
            newest_hash = newest.tx_hash
        status = self.driver.transaction_status(newest_hash, raw)
        if status.state == TxState.UNKNOWN:
            self._resend(raw)
        elif status.state == TxState.EXPIRED:
            self._expired(payout_id)
        elif (
            status.state == TxState.PENDING
            and nonce is not None
            and mode == WalletMode.HOT
            and sent_at is not None
            and utcnow() - sent_at > self.stuck_after
        ):
            self._replace(payout_id, nonce)

    def _resend(self, raw: str) -> None:
        """The node lost the transaction (or a lagging backend never saw it): same bytes."""
        try:
            self.driver.broadcast(self.driver.decode(raw))
        except Rejected as exc:
            log.warning("%s payouts: a resend was refused (%s)", self.chain, exc)

    def _expired(self, payout_id: str) -> None:
        """TRON: proven unable to land, so a new transaction cannot pay the payout twice."""
        with self.sessions() as session, session.begin():
            payout = self._locked(session, payout_id)
            if payout.status not in (PayoutStatus.APPROVED, PayoutStatus.BROADCAST):
                return
            session.execute(
                sa.update(PayoutTransaction)
                .where(
                    PayoutTransaction.payout_id == payout_id,
                    PayoutTransaction.expired_at.is_(None),
                )
                .values(expired_at=utcnow())
            )
            payout.status, payout.tx_hash = PayoutStatus.APPROVED, None
            payout.unsigned = payout.expected = None
            payout.failure = "the transaction expired before it was mined; it is sent again"
        log.warning("%s payout %s expired unmined; signing it again", self.chain, payout_id)

    def _replace(self, payout_id: str, nonce: int) -> None:
        """EVM: the same nonce with a higher fee; only one of the two can be mined."""
        payout, wallet = self._load(payout_id)
        with self.sessions() as session:
            tries = session.scalar(
                sa.select(sa.func.count()).where(PayoutTransaction.payout_id == payout_id)
            )
        key = self.ring.open(wallet.keystore or "")
        signed = self.driver.sign(self._build(payout, wallet, nonce, self.bump * tries), key)
        del key
        with self.sessions() as session, session.begin():
            current = self._locked(session, payout_id)
            if current.status != PayoutStatus.BROADCAST:
                return
            session.add(
                PayoutTransaction(
                    payout_id=payout_id,
                    chain=self.chain,
                    tx_hash=signed.tx_hash,
                    raw=signed.raw,
                    nonce=nonce,
                )
            )
            current.tx_hash = signed.tx_hash
        log.info("%s payout %s stuck: replaced with a higher fee", self.chain, payout_id)

    # -- the wallet's gas --------------------------------------------------------------

    def _check_gas(self, tip: Tip) -> None:
        if self.gas_floor is None:
            return
        with self.sessions() as session:
            found = session.execute(
                sa.select(PayoutWallet.seq, PayoutWallet.address).where(
                    PayoutWallet.chain == self.chain
                )
            ).all()
        for seq, address in found:
            native = self.driver.native_balance(address)
            with self.sessions() as session, session.begin():
                wallet = session.get(PayoutWallet, seq, with_for_update=True)
                low = native < self.gas_floor
                if low and wallet.low_gas_since is None:
                    wallet.low_gas_since = utcnow()
                    data = LOW_GAS.dump(
                        {
                            "id": wallet.id,
                            "chain": wallet.chain,
                            "address": wallet.address,
                            "native_balance": str(native),
                            "floor": str(self.gas_floor),
                        }
                    )
                    events.record(session, wallet.merchant_id, "payout_wallet.low_gas", data)
                elif not low and wallet.low_gas_since is not None:
                    wallet.low_gas_since = None

    # -- helpers -------------------------------------------------------------------------

    def _load(self, payout_id: str) -> tuple[Payout, PayoutWallet]:
        with self.sessions() as session:
            payout = session.scalar(sa.select(Payout).where(Payout.id == payout_id))
            wallet = session.scalar(
                sa.select(PayoutWallet).where(PayoutWallet.id == payout.wallet_id)
            )
            session.expunge_all()
        return payout, wallet

    @staticmethod
    def _locked(session: Session, payout_id: str) -> Payout:
        return session.scalar(sa.select(Payout).where(Payout.id == payout_id).with_for_update())

    def _note(self, payout_id: str, message: str) -> None:
        log.error("%s payout %s: %s", self.chain, payout_id, message)
        with self.sessions() as session, session.begin():
            self._locked(session, payout_id).failure = message

    @staticmethod
    def _fail(session: Session, payout: Payout, reason: str) -> None:
        payout.status, payout.failure = PayoutStatus.FAILED, reason
        payouts.release(session, payout, "payout_released")
        payouts.announce(session, payout, "payout.failed")


def _expected(built: Outgoing) -> dict[str, Any]:
    """What an external signature must do: the unsigned transfer's every field."""
    return {
        "sender": built.sender,
        "to": built.to,
        "amount": str(built.amount),
        "token": built.token,
        "fields": built.fields,
    }


def attach_signed(session: Session, driver: ChainDriver, payout: Payout, raw: str) -> Signed:
    """Accept an external signer's bytes only if they are exactly the approved payout.

    ValueError names the first field that differs (token, recipient, amount, chain id, nonce,
    sender, ...); nothing is stored then.
    """
    if payout.status != PayoutStatus.APPROVED or payout.expected is None:
        raise ValueError("this payout is not waiting for a signature")
    signed = driver.decode(raw)
    if payout.tx_hash is not None:
        # one signature per prepared transaction: on TRON two could both land
        if payout.tx_hash == signed.tx_hash:
            return signed
        raise ValueError("this payout is signed already")
    expected = payout.expected
    got = {
        "sender": signed.transfer.sender,
        "to": signed.transfer.to,
        "amount": str(signed.transfer.amount),
        "token": signed.transfer.token,
    }
    for name, value in got.items():
        if value != expected[name]:
            raise ValueError(f"the signed transaction's {name} is not the approved payout's")
    # the signer may choose its own fee; the chain and the nonce (EVM) make it this payout
    for name in ("chain_id", "nonce"):
        if (
            name in expected["fields"]
            and signed.transfer.fields.get(name) != expected["fields"][name]
        ):
            raise ValueError(f"the signed transaction's {name} is not the one prepared")
    session.add(
        PayoutTransaction(
            payout_id=payout.id,
            chain=payout.chain,
            tx_hash=signed.tx_hash,
            raw=signed.raw,
            nonce=payout.nonce,
        )
    )
    payout.tx_hash = signed.tx_hash
    return signed
