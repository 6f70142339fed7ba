"""Tables of dashboard accounts: users, their sessions, one-time tokens spent, login
throttles, and each merchant's dashboard settings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base
from gateway.core.models import UTCDateTime, new_id, utcnow


class Role(StrEnum):
    """What a user may do: owner everything, operator the daily work, viewer only look."""

    OWNER = "owner"
    OPERATOR = "operator"
    VIEWER = "viewer"


class User(Base):
    """A person who signs in to the dashboard, on behalf of one merchant."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("usr"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    # lower-cased: the login name, unique across merchants
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    role: Mapped[str] = mapped_column(sa.String(16))
    # argon2id, with its parameters, as argon2-cffi encodes it
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # the TOTP secret; set at enrolment, in force once totp_enabled_at is set
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the last 30-second step a code was accepted for: a code is good once
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # SHA-256 of each unused recovery code
    recovery_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_ip: Mapped[str | None] = mapped_column(sa.String(64))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def has_totp(self) -> bool:
        """Whether a TOTP code is asked at login."""
        return self.totp_enabled_at is not None


class UserSession(Base):
    """A signed-in browser. The cookie holds a token; only its hash is stored, so a copy
    of the database opens no session, and logging out ends the session for good."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id"), index=True)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsedToken(Base):
    """An invite or password-reset token already spent: each is good once."""

    __tablename__ = "used_tokens"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(16))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginThrottle(Base):
    """Failed logins of one account or one IP address, and until when they must wait."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MerchantSettings(Base):
    """What a merchant sets in the dashboard: 2FA policy, order defaults, checkout branding."""

    __tablename__ = "merchant_settings"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    require_2fa: Mapped[bool] = mapped_column(default=False)
    # None: the configuration's [orders] default_expiry_minutes
    order_expiry_minutes: Mapped[int | None]
    brand_name: Mapped[str] = mapped_column(sa.String(100), default="")
    logo_url: Mapped[str] = mapped_column(sa.String(500), default="")
    return_url: Mapped[str] = mapped_column(sa.String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
