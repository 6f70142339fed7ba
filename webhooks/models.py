"""Webhook endpoints, one delivery per (event, endpoint), and every attempt at it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.db import Base
from gateway.core.models import UTCDateTime, new_id, utcnow


class DeliveryStatus(StrEnum):
    """A delivery is pending (retries left), then succeeded, or failed for good."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


EXCERPT_BYTES = 1024

_seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def subscribes(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint with ``event_types`` wants events of ``event_type``."""
    return "*" in event_types or event_type in event_types


def live_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign now: the current one, and the previous during the overlap."""
    if previous and previous_expires_at is not None and previous_expires_at > now:
        return [secret, previous]
    return [secret]


class WebhookEndpoint(Base):
    """Where a merchant wants events sent, and the secret that signs them."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.Index("ix_webhook_endpoints_merchant_seq", "merchant_id", "seq"),)

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("whk"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    url: Mapped[str] = mapped_column(sa.String(2048))
    event_types: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    secret: Mapped[str] = mapped_column(sa.String(128))
    # after a rotation the old secret keeps signing beside the new one until it expires
    previous_secret: Mapped[str | None] = mapped_column(sa.String(128))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # set when a delivery used up its schedule; cleared by the next success
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One event on its way to one endpoint; the database, not Redis, is its record."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_merchant_seq", "merchant_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("dlv"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("events.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=DeliveryStatus.PENDING)
    # attempts since the delivery was created or last redelivered: the schedule position
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # a job that claimed the delivery owns it until then; later, the sweep may send it again
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the last job for it went to Redis; the sweep leaves it alone for a while
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attempts: Mapped[list[DeliveryAttempt]] = relationship(
        order_by="DeliveryAttempt.seq", cascade="all, delete-orphan", passive_deletes=True
    )


class DeliveryAttempt(Base):
    """One HTTP request of a delivery and what came back."""

    __tablename__ = "webhook_attempts"

    seq: Mapped[int] = mapped_column(_seq, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("att"))
    delivery_id: Mapped[str] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    response_excerpt: Mapped[str] = mapped_column(sa.Text, default="")
    error: Mapped[str | None] = mapped_column(sa.String(500))
