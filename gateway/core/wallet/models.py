"""The back office's tables: payout wallets, the ledger, payouts, the address book, policies.

Money is integers in base units. The ledger is append-only: a balance is the sum of its
entries, never a column updated in place.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.db import Base
from gateway.core.models import BaseUnits, UTCDateTime, new_id, utcnow

_seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class SignedUnits(sa.TypeDecorator):
    """A signed integer of base units, stored as digits (see BaseUnits for why text)."""

    impl = sa.String(81)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("base units must be an int")
        return str(value)

    def process_result_value(self, value: str | None, dialect) -> int | None:
        return None if value is None else int(value)


class WalletMode(StrEnum):
    """Who signs: the gateway with a key it keeps encrypted, or the merchant elsewhere."""

    HOT = "hot"
    EXTERNAL = "external"


class Account(StrEnum):
    """Ledger accounts of one merchant on one chain."""

    #: Confirmed payments on the watch-only deposit addresses (the merchant's own wallet
    #: sweeps them; the gateway cannot move them).
    RECEIVED = "received"
    #: Tokens in the payout wallet that payouts may use.
    PAYOUT = "payout"
    #: Tokens of payouts on their way: taken from PAYOUT when a payout is created.
    RESERVED = "reserved"
    #: The payout wallet's native currency spent on fees (asset "native").
    FEES = "fees"
    #: Everybody else: the other side of every movement in or out.
    WORLD = "world"


class Asset(StrEnum):
    """The token the gateway is about, or the chain's native currency (fees)."""

    TOKEN = "token"  # noqa: S105  (an asset name, not a secret)
    NATIVE = "native"


class PayoutStatus(StrEnum):
    """A payout's way: awaiting_approval -> approved -> broadcast -> confirmed."""

    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    FAILED = "failed"


#: Until then a payout can be cancelled; from broadcast on it may be on chain.
CANCELLABLE = (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.APPROVED)
#: The reserve is held in these states.
IN_FLIGHT = (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.APPROVED, PayoutStatus.BROADCAST)


class PayoutWallet(Base):
    """The address a merchant pays out from on one chain, and how it signs."""

    __tablename__ = "payout_wallets"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "chain"),
        sa.UniqueConstraint("chain", "address"),
    )

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("pwl"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    chain: Mapped[str] = mapped_column(sa.String(32))
    mode: Mapped[str] = mapped_column(sa.String(16))
    address: Mapped[str] = mapped_column(sa.String(100))
    # the token's decimals on this chain, for showing what the wallet receives and sends
    decimals: Mapped[int]
    # an Ethereum keystore v3 (scrypt) of the key, hot wallets only; its passphrase is never
    # in the database or the configuration
    keystore: Mapped[str | None] = mapped_column(sa.Text)
    # EVM: the nonce the next signed payout takes; the wallet row's lock hands them out
    next_nonce: Mapped[int | None] = mapped_column(sa.BigInteger)
    # set while the native balance is under the floor, so payout_wallet.low_gas goes once
    low_gas_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LedgerEntry(Base):
    """One posting; the postings of a movement sum to zero per asset (double entry)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.Index("ix_ledger_balance", "merchant_id", "chain", "asset", "account"),
        sa.Index("ix_ledger_merchant_seq", "merchant_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("led"))
    # the postings of one movement share it: the transaction id of the API's history
    movement: Mapped[str] = mapped_column(sa.String(32), index=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    chain: Mapped[str] = mapped_column(sa.String(32))
    asset: Mapped[str] = mapped_column(sa.String(16))
    account: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[int] = mapped_column(SignedUnits)
    # what happened: payment, payment_reverted, deposit, deposit_reverted, payout_reserved,
    # payout_released, payout_sent, payout_reverted, fee
    kind: Mapped[str] = mapped_column(sa.String(32))
    payment_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    payout_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    order_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    # the deposit address or payout wallet the money is on, and the chain transaction
    address: Mapped[str | None] = mapped_column(sa.String(100))
    tx_hash: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Payout(Base):
    """Tokens sent from a payout wallet: a withdrawal, a transfer, or a refund of an order."""

    __tablename__ = "payouts"
    __table_args__ = (sa.Index("ix_payouts_merchant_seq", "merchant_id", "seq"),)

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("po"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    chain: Mapped[str] = mapped_column(sa.String(32))
    wallet_id: Mapped[str] = mapped_column(sa.ForeignKey("payout_wallets.id"))
    to_address: Mapped[str] = mapped_column(sa.String(100))
    amount: Mapped[int] = mapped_column(BaseUnits)
    decimals: Mapped[int]
    reference: Mapped[str] = mapped_column(sa.String(200), default="")
    # a refund pays back (part of) what this order received
    order_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    status: Mapped[str] = mapped_column(
        sa.String(20), default=PayoutStatus.AWAITING_APPROVAL, index=True
    )
    # who asked and who approved: an API key id (or a dashboard user), never the same
    created_by: Mapped[str] = mapped_column(sa.String(64))
    approved_by: Mapped[str | None] = mapped_column(sa.String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the native currency the payout's fees may burn, checked against the gas at creation
    fee_estimate: Mapped[int] = mapped_column(BaseUnits, default=0)
    # EVM: the wallet nonce the payout's transactions use (a replacement keeps it)
    nonce: Mapped[int | None] = mapped_column(sa.BigInteger)
    # external wallets: the unsigned transaction the merchant signs elsewhere, and what it
    # must do (Outgoing.fields) so the signed bytes can be checked against it
    unsigned: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    expected: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    fee_paid: Mapped[int | None] = mapped_column(BaseUnits)
    # the transaction that counts: the newest signed one, or the one that got mined
    tx_hash: Mapped[str | None] = mapped_column(sa.String(100))
    block_number: Mapped[int | None] = mapped_column(sa.BigInteger)
    block_hash: Mapped[str | None] = mapped_column(sa.String(100))
    failure: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    broadcast_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    transactions: Mapped[list[PayoutTransaction]] = relationship(
        order_by="PayoutTransaction.seq", back_populates="payout"
    )


class PayoutTransaction(Base):
    """A signed transaction of a payout, stored before it is broadcast.

    A retry sends these same bytes again. A payout has more than one only when a stuck EVM
    transaction is replaced (same nonce, higher fee: at most one can be mined) or a TRON
    transaction expired unbroadcast and was proven unable to land.
    """

    __tablename__ = "payout_transactions"
    __table_args__ = (sa.UniqueConstraint("chain", "tx_hash"),)

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    payout_id: Mapped[str] = mapped_column(sa.ForeignKey("payouts.id"), index=True)
    chain: Mapped[str] = mapped_column(sa.String(32))
    tx_hash: Mapped[str] = mapped_column(sa.String(100))
    raw: Mapped[str] = mapped_column(sa.Text)
    nonce: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    broadcast_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # set when the node proved it can never be included (TRON expiry): never sent again
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payout: Mapped[Payout] = relationship(back_populates="transactions")


class AddressBookEntry(Base):
    """A destination payouts may go to, once its cooldown has passed."""

    __tablename__ = "address_book"
    __table_args__ = (sa.UniqueConstraint("merchant_id", "chain", "address"),)

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("adr"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    chain: Mapped[str] = mapped_column(sa.String(32))
    address: Mapped[str] = mapped_column(sa.String(100))
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    usable_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PayoutPolicy(Base):
    """A merchant's rules for payouts; absent means the configuration's defaults."""

    __tablename__ = "payout_policies"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    # approval by a second credential at or above this many token units; 0: always
    approval_threshold: Mapped[str] = mapped_column(sa.String(40), default="0")
    # token units a day (UTC) over all chains' payouts; None: no limit
    daily_limit: Mapped[str | None] = mapped_column(sa.String(40))
    # payouts only to address-book entries, each usable after the cooldown
    allowlist_only: Mapped[bool] = mapped_column(default=False)
    allowlist_cooldown_minutes: Mapped[int] = mapped_column(default=1440)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
