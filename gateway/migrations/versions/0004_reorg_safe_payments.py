"""reorg-safe payments: a transfer's identity survives re-indexing; kept block hashes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00.000000
"""

from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# PostgreSQL's own name for an unnamed UNIQUE; batch mode on SQLite needs a name to drop one
NAMING = {"uq": "%(table_name)s_%(column_0_N_name)s_key"}
OLD_KEY = "payments_chain_tx_hash_log_index_key"
NEW_KEY = "payments_transfer_key"

payments = sa.table(
    "payments",
    sa.column("seq", sa.Integer),
    sa.column("chain", sa.String),
    sa.column("tx_hash", sa.String),
    sa.column("log_index", sa.Integer),
    sa.column("from_address", sa.String),
    sa.column("to_address", sa.String),
    sa.column("amount", sa.String),
    sa.column("occurrence", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "scanned_blocks",
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=100), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain", "number"),
    )
    with op.batch_alter_table("chain_cursors") as batch_op:
        # replaced by scanned_blocks; the next step starts a fresh set of kept hashes
        batch_op.drop_column("last_hash")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(
            sa.Column("occurrence", sa.Integer(), nullable=False, server_default="0")
        )
    _backfill_occurrence()
    with op.batch_alter_table("payments", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(OLD_KEY, type_="unique")
        batch_op.create_unique_constraint(
            NEW_KEY, ["chain", "tx_hash", "from_address", "to_address", "amount", "occurrence"]
        )
        batch_op.create_index("ix_payments_block", ["chain", "block_number"], unique=False)
    with op.batch_alter_table("payments") as batch_op:
        batch_op.alter_column("occurrence", server_default=None)
    with op.batch_alter_table("orders") as batch_op:
        batch_op.alter_column("version", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("payments", naming_convention=NAMING) as batch_op:
        batch_op.drop_index("ix_payments_block")
        batch_op.drop_constraint(NEW_KEY, type_="unique")
        batch_op.create_unique_constraint(OLD_KEY, ["chain", "tx_hash", "log_index"])
        batch_op.drop_column("occurrence")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("chain_cursors") as batch_op:
        batch_op.add_column(sa.Column("last_hash", sa.String(length=100), nullable=True))
    op.drop_table("scanned_blocks")


def _backfill_occurrence() -> None:
    """Number identical transfers of one transaction in log order, as the watcher does.

    Identical transfers share their recipient, so every one of them was recorded: the
    numbering is exactly what a rescan computes.
    """
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            payments.c.seq,
            payments.c.chain,
            payments.c.tx_hash,
            payments.c.from_address,
            payments.c.to_address,
            payments.c.amount,
        ).order_by(
            payments.c.chain,
            payments.c.tx_hash,
            payments.c.from_address,
            payments.c.to_address,
            payments.c.amount,
            payments.c.log_index,
        )
    ).all()
    for _, group in groupby(rows, key=lambda row: tuple(row[1:])):
        for occurrence, row in enumerate(group):
            if occurrence:
                bind.execute(
                    sa.update(payments)
                    .where(payments.c.seq == row.seq)
                    .values(occurrence=occurrence)
                )
