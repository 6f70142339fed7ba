"""OAuth clients of a merchant and the keys that sign access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base
from gateway.core.models import UTCDateTime, new_id, utcnow


class OAuthClient(Base):
    """A platform's credentials: an id and a secret (stored hashed) with scopes."""

    __tablename__ = "oauth_clients"
    __table_args__ = (sa.Index("ix_oauth_clients_merchant_seq", "merchant_id", "seq"),)

    seq: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: new_id("cli"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    secret_hash: Mapped[str] = mapped_column(sa.String(128))
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    allowed_ips: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKey(Base):
    """An RSA key that signs access tokens; its private half is stored sealed."""

    __tablename__ = "oauth_signing_keys"

    kid: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    private_key: Mapped[str] = mapped_column(sa.Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # no longer signs from then on; still verifies (and is published) while its tokens live
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
