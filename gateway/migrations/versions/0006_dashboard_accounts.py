"""dashboard accounts: users, their sessions, spent one-time tokens, login throttles,
merchant settings; API keys remember the IP they were last used from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:06:18.052174
"""

import sqlalchemy as sa
from alembic import op

import gateway.core.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("updated_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "used_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("used_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "merchant_settings",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("require_2fa", sa.Boolean(), nullable=False),
        sa.Column("order_expiry_minutes", sa.Integer(), nullable=True),
        sa.Column("brand_name", sa.String(length=100), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=False),
        sa.Column("return_url", sa.String(length=500), nullable=False),
        sa.Column("updated_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_enabled_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("recovery_codes", sa.JSON(), nullable=False),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("last_login_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("last_login_ip", sa.String(length=64), nullable=True),
        sa.Column("disabled_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_index("ix_users_merchant_id", "users", ["merchant_id"])
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_ip", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_ip")

    op.drop_index("ix_user_sessions_user_id", "user_sessions")
    op.drop_table("user_sessions")
    op.drop_index("ix_users_merchant_id", "users")
    op.drop_table("users")
    op.drop_table("merchant_settings")
    op.drop_table("used_tokens")
    op.drop_table("login_throttles")
