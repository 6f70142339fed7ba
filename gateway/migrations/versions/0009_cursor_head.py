"""chain cursors remember the node's head at the watcher's last step (for /readyz)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chain_cursors") as batch:
        batch.add_column(sa.Column("head", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chain_cursors") as batch:
        batch.drop_column("head")
