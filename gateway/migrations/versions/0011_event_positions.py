"""events get a place in the feed: the writer's transaction id beside seq

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:10:00
"""

import sqlalchemy as sa
from alembic import op

from gateway.core.models import WriterTransaction

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # existing rows are all committed: 0 puts them first, in seq order, without a rewrite
    with op.batch_alter_table("events") as batch:
        batch.add_column(
            sa.Column("txid", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("events", "txid", server_default=WriterTransaction())
    op.create_index("ix_events_merchant_position", "events", ["merchant_id", "txid", "seq"])


def downgrade() -> None:
    op.drop_index("ix_events_merchant_position", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("txid")
