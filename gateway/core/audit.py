"""The audit log: who did what, with which credential, from where. Rows are only added."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.core.db import Base
from gateway.core.models import UTCDateTime, new_id, utcnow


class AuditEntry(Base):
    """One action on money or credentials."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_merchant_seq", "merchant_id", "seq"),)

    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("aud"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    # an API key id, a dashboard user id, or "cli" for the operator's shell
    actor: Mapped[str] = mapped_column(sa.String(64))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    subject: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@dataclass(frozen=True)
class Actor:
    """Who acts: a credential id (API key, user) and the address it came from."""

    id: str
    ip: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """The operator at the server's shell."""
        return cls("cli")


def record(
    session: Session,
    merchant_id: str,
    actor: Actor,
    action: str,
    subject: str | None = None,
    **details: Any,
) -> AuditEntry:
    """Add an entry in the caller's transaction: it commits with the action or not at all."""
    entry = AuditEntry(
        merchant_id=merchant_id,
        actor=actor.id,
        ip=actor.ip,
        action=action,
        subject=subject,
        details=details,
    )
    session.add(entry)
    return entry
