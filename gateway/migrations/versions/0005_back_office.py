"""back office: payout wallets, the ledger, payouts, the address book, policies, audit log;
payments may be deposits to a payout wallet

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:42:20.313696
"""

import sqlalchemy as sa
from alembic import op

import gateway.core.models
import gateway.core.wallet.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "address_book",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("usable_after", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("merchant_id", "chain", "address"),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_audit_merchant_seq", ["merchant_id", "seq"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("movement", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("amount", gateway.core.wallet.models.SignedUnits(length=81), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=True),
        sa.Column("payout_id", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("tx_hash", sa.String(length=100), nullable=True),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_balance", ["merchant_id", "chain", "asset", "account"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_movement"), ["movement"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_payout_id"), ["payout_id"], unique=False
        )
        batch_op.create_index("ix_ledger_merchant_seq", ["merchant_id", "seq"], unique=False)

    op.create_table(
        "payout_policies",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("approval_threshold", sa.String(length=40), nullable=False),
        sa.Column("daily_limit", sa.String(length=40), nullable=True),
        sa.Column("allowlist_only", sa.Boolean(), nullable=False),
        sa.Column("allowlist_cooldown_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "payout_wallets",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("keystore", sa.Text(), nullable=True),
        sa.Column("next_nonce", sa.BigInteger(), nullable=True),
        sa.Column("low_gas_since", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("chain", "address"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("merchant_id", "chain"),
    )
    op.create_table(
        "payouts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("wallet_id", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=100), nullable=False),
        sa.Column("amount", gateway.core.models.BaseUnits(length=80), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("fee_estimate", gateway.core.models.BaseUnits(length=80), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("unsigned", sa.JSON(), nullable=True),
        sa.Column("expected", sa.JSON(), nullable=True),
        sa.Column("fee_paid", gateway.core.models.BaseUnits(length=80), nullable=True),
        sa.Column("tx_hash", sa.String(length=100), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=100), nullable=True),
        sa.Column("failure", sa.String(length=300), nullable=True),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("broadcast_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["wallet_id"],
            ["payout_wallets.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payouts_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_payouts_merchant_seq", ["merchant_id", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_payouts_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payouts_status"), ["status"], unique=False)

    op.create_table(
        "payout_transactions",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payout_id", sa.String(length=32), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("tx_hash", sa.String(length=100), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("created_at", gateway.core.models.UTCDateTime(), nullable=False),
        sa.Column("broadcast_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.Column("expired_at", gateway.core.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["payout_id"],
            ["payouts.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("chain", "tx_hash"),
    )
    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payout_transactions_payout_id"), ["payout_id"], unique=False
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wallet_id", sa.String(length=32), nullable=True))
        batch_op.alter_column("order_id", existing_type=sa.VARCHAR(length=32), nullable=True)
        batch_op.create_index(batch_op.f("ix_payments_wallet_id"), ["wallet_id"], unique=False)
        batch_op.create_foreign_key(
            "payments_wallet_id_fkey", "payout_wallets", ["wallet_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("payments_wallet_id_fkey", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_payments_wallet_id"))
        batch_op.alter_column("order_id", existing_type=sa.VARCHAR(length=32), nullable=False)
        batch_op.drop_column("wallet_id")

    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_transactions_payout_id"))

    op.drop_table("payout_transactions")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payouts_status"))
        batch_op.drop_index(batch_op.f("ix_payouts_order_id"))
        batch_op.drop_index("ix_payouts_merchant_seq")
        batch_op.drop_index(batch_op.f("ix_payouts_created_at"))

    op.drop_table("payouts")
    op.drop_table("payout_wallets")
    op.drop_table("payout_policies")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_merchant_seq")
        batch_op.drop_index(batch_op.f("ix_ledger_entries_payout_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_payment_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_order_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_movement"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_created_at"))
        batch_op.drop_index("ix_ledger_balance")

    op.drop_table("ledger_entries")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_merchant_seq")
        batch_op.drop_index(batch_op.f("ix_audit_log_created_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
    op.drop_table("address_book")
