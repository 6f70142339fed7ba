"""Database models. Money columns hold integers in the token's base units."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.database import Base

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    """An opaque id a human can recognise in logs: ``ord_3kq...``."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(20))


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
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    merchant: Mapped[Merchant] = relationship()


class HdAccount(Base):
    """A merchant's account-level xpub for one chain family, and its next child index."""

    __tablename__ = "hd_accounts"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "family"),
        # two merchants on one xpub would be paid to each other's addresses
        sa.UniqueConstraint("family", "xpub"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    family: Mapped[str] = mapped_column(sa.String(32))
    xpub: Mapped[str] = mapped_column(sa.String(200))
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
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
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
    """One on-chain transfer to an order's address; unique per (chain, tx, log index)."""

    __tablename__ = "payments"
    __table_args__ = (sa.UniqueConstraint("chain", "tx_hash", "log_index"),)

    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("pay"))
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    chain: Mapped[str] = mapped_column(sa.String(32))
    tx_hash: Mapped[str] = mapped_column(sa.String(100))
    log_index: Mapped[int]
    block_number: Mapped[int] = mapped_column(sa.BigInteger)
    block_hash: Mapped[str] = mapped_column(sa.String(100))
    from_address: Mapped[str] = mapped_column(sa.String(100))
    to_address: Mapped[str] = mapped_column(sa.String(100))
    amount: Mapped[int] = mapped_column(BaseUnits)
    # confirming -> confirmed, or -> reverted when its block left the canonical chain
    status: Mapped[str] = mapped_column(sa.String(16), default="confirming")
    late: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="payments")


class Event(Base):
    """The outbox: one row per state change, written in the same transaction."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_merchant_seq", "merchant_id", "seq"),)

    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("evt"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    type: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class IdempotencyKey(Base):
    """The first answer to a POST with an Idempotency-Key, replayed for retries."""

    __tablename__ = "idempotency_keys"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChainCursor(Base):
    """Where the watcher of one chain goes on from, and which watcher holds the chain."""

    __tablename__ = "chain_cursors"

    chain: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    next_block: Mapped[int] = mapped_column(sa.BigInteger)
    # hash of block next_block - 1 when it was scanned: a change means a reorg
    last_hash: Mapped[str | None] = mapped_column(sa.String(100))
    owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
