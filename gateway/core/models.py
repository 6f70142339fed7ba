"""Database models. Money columns hold integers in the token's base units."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.db import Base

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    """An opaque id a human can recognise in logs: ``ord_3kq...``."""
    # the same 20 uniform base-36 digits as 20 secrets.choice() calls, from one draw
    number, digits = secrets.randbelow(36**20), []
    for _ in range(20):
        number, digit = divmod(number, 36)
        digits.append(_ALPHABET[digit])
    return prefix + "_" + "".join(digits)


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp in the gateway is UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A datetime stored naive in UTC and returned timezone-aware, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class BaseUnits(sa.TypeDecorator):
    """An unbounded non-negative integer, stored as digits.

    18-decimal tokens overflow BIGINT above 9.2 USDT * 1e9, and SQLite turns large
    NUMERICs into floats, so the digits are kept as text and summed in Python.
    """

    impl = sa.String(80)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError("base units must be a non-negative int")
        return str(value)

    def process_result_value(self, value: str | None, dialect) -> int | None:
        return None if value is None else int(value)


class OrderStatus(StrEnum):
    """Where an order stands; derived from its payments and the clock (orders.recompute)."""

    PENDING = "pending"
    CONFIRMING = "confirming"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    """A payment is confirming, then confirmed; or reverted when its block left the chain."""

    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    REVERTED = "reverted"


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("mch"))
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("key"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    prefix: Mapped[str] = mapped_column(sa.String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(128))
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    allowed_ips: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(sa.String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # refused from then on; answers warn in the two weeks before
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    merchant: Mapped[Merchant] = relationship()


class HdAccount(Base):
    """A merchant's account-level xpub for one chain family, and its next child index."""

    __tablename__ = "hd_accounts"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "family"),
        # two merchants on one key would be paid to each other's addresses; the key, not
        # the xpub text, which re-encodes the same key many ways (plugins.hd.account_key_id)
        sa.UniqueConstraint("family", "key_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    family: Mapped[str] = mapped_column(sa.String(32))
    xpub: Mapped[str] = mapped_column(sa.String(200))
    key_id: Mapped[str] = mapped_column(sa.String(130))
    next_index: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("hd_account_id", "hd_index"),
        sa.UniqueConstraint("chain", "address"),
        sa.Index("ix_orders_merchant_seq", "merchant_id", "seq"),
        sa.Index("ix_orders_watch", "chain", "status"),
    )

    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("ord"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    chain: Mapped[str] = mapped_column(sa.String(32))
    reference: Mapped[str] = mapped_column(sa.String(200), index=True)
    amount: Mapped[int] = mapped_column(BaseUnits)
    decimals: Mapped[int]
    token: Mapped[str] = mapped_column(sa.String(100))
    address: Mapped[str] = mapped_column(sa.String(100))
    payment_uri: Mapped[str] = mapped_column(sa.String(500))
    hd_account_id: Mapped[int] = mapped_column(sa.ForeignKey("hd_accounts.id"))
    hd_index: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(16), default=OrderStatus.PENDING)
    # counts the order's announced changes: a receiver keeps the highest it has seen, so a
    # retried older event never overwrites a newer state
    version: Mapped[int] = mapped_column(default=0)
    amount_seen: Mapped[int] = mapped_column(BaseUnits, default=0)
    amount_confirmed: Mapped[int] = mapped_column(BaseUnits, default=0)
    underpaid: Mapped[bool] = mapped_column(default=False)
    overpaid: Mapped[bool] = mapped_column(default=False)
    late: Mapped[bool] = mapped_column(default=False)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON, default=dict)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payments: Mapped[list[Payment]] = relationship(back_populates="order", order_by="Payment.seq")


class Payment(Base):
    """One on-chain transfer to an order's address, counted once (see payments.record)."""

    __tablename__ = "payments"
    __table_args__ = (
        # what names a transfer in every block a reorg may move its transaction to
        sa.UniqueConstraint(
            "chain",
            "tx_hash",
            "from_address",
            "to_address",
            "amount",
            "occurrence",
            name="payments_transfer_key",
        ),
        sa.Index("ix_payments_block", "chain", "block_number"),
    )

    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("pay"))
    # the order whose address was paid, or (a deposit) the payout wallet that was funded
    order_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    wallet_id: Mapped[str | None] = mapped_column(sa.ForeignKey("payout_wallets.id"), index=True)
    chain: Mapped[str] = mapped_column(sa.String(32))
    tx_hash: Mapped[str] = mapped_column(sa.String(100))
    # identical transfers (same sender, recipient, amount) earlier in the same transaction
    occurrence: Mapped[int] = mapped_column(default=0)
    log_index: Mapped[int]
    block_number: Mapped[int] = mapped_column(sa.BigInteger)
    block_hash: Mapped[str] = mapped_column(sa.String(100))
    from_address: Mapped[str] = mapped_column(sa.String(100))
    to_address: Mapped[str] = mapped_column(sa.String(100))
    amount: Mapped[int] = mapped_column(BaseUnits)
    status: Mapped[str] = mapped_column(sa.String(16), default=PaymentStatus.CONFIRMING)
    late: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order | None] = relationship(back_populates="payments")
    # a deposit's payout wallet (by string: the back office's models load with the core)
    wallet: Mapped[Any] = relationship("PayoutWallet")


class WriterTransaction(sa.sql.expression.FunctionElement):
    """The id of the transaction writing a row: PostgreSQL's xid, 0 where writers queue.

    PostgreSQL hands out ``seq`` before commit, so rows may become visible out of seq
    order; ordered by (writer's xid, seq) and read only below the oldest running xid, a
    reader's cursor never passes a row that commits later. SQLite has one writer at a
    time, so there seq order already is commit order.
    """

    type = sa.BigInteger()
    inherit_cache = True


@compiles(WriterTransaction)
def _no_transaction_id(element: WriterTransaction, compiler: Any, **kw: Any) -> str:
    return "0"


@compiles(WriterTransaction, "postgresql")
def _postgres_transaction_id(element: WriterTransaction, compiler: Any, **kw: Any) -> str:
    return "(pg_current_xact_id()::text::bigint)"


class Event(Base):
    """The outbox: one row per state change, written in the same transaction."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_merchant_seq", "merchant_id", "seq"),
        sa.Index("ix_events_merchant_position", "merchant_id", "txid", "seq"),
    )

    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("evt"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    type: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # the API request that caused the change, so its webhook jobs log under the same id
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # with seq, the event's place in the feed (gateway.core.feed): see WriterTransaction
    txid: Mapped[int] = mapped_column(sa.BigInteger, server_default=WriterTransaction())


class IdempotencyKey(Base):
    """The first answer to a POST with an Idempotency-Key, replayed for retries."""

    __tablename__ = "idempotency_keys"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # the purge deletes by age (gateway.core.idempotency)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ChainCursor(Base):
    """Where the watcher of one chain goes on from, and which watcher holds the chain."""

    __tablename__ = "chain_cursors"

    chain: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    next_block: Mapped[int] = mapped_column(sa.BigInteger)

    @classmethod
    def near(cls, chain: str, head: int, confirmations: int) -> ChainCursor:
        """A new chain's cursor: near the head, below any block that can still reorganise.

        Nobody can have paid an order before its chain was first watched or ordered from.
        """
        return cls(chain=chain, next_block=max(0, head - confirmations))

    owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the node's head at the last step, for /readyz's lag
    head: Mapped[int | None] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ScannedBlock(Base):
    """The hash of a block the watcher scanned, kept a while to find reorgs (see reorgs)."""

    __tablename__ = "scanned_blocks"

    chain: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    number: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(sa.String(100))
    # Unix seconds: the chain's clock, by which orders expire
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
