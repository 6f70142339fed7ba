"""xpub identity: one key serves one merchant, however its xpub is encoded

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# The very function registration uses: a frozen copy that drifted from it would let
# registration and the stored identities disagree, which is the hole this closes.
from plugins.hd import account_key_id

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# PostgreSQL's own name for an unnamed UNIQUE; SQLite reflects unnamed ones nameless, and
# batch mode needs a name to drop one, so this gives them the same name on both backends.
NAMING = {"uq": "%(table_name)s_%(column_0_N_name)s_key"}

accounts = sa.table(
    "hd_accounts",
    sa.column("id", sa.Integer),
    sa.column("merchant_id", sa.String),
    sa.column("family", sa.String),
    sa.column("xpub", sa.String),
    sa.column("key_id", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("hd_accounts") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=130), nullable=True))
    _backfill()
    with (
        _sqlite_rows_set_aside(),
        op.batch_alter_table("hd_accounts", naming_convention=NAMING) as batch_op,
    ):
        batch_op.alter_column("key_id", existing_type=sa.String(length=130), nullable=False)
        batch_op.drop_constraint("hd_accounts_family_xpub_key", type_="unique")
        batch_op.create_unique_constraint("hd_accounts_family_key_id_key", ["family", "key_id"])


def downgrade() -> None:
    with (
        _sqlite_rows_set_aside(),
        op.batch_alter_table("hd_accounts", naming_convention=NAMING) as batch_op,
    ):
        batch_op.drop_constraint("hd_accounts_family_key_id_key", type_="unique")
        batch_op.create_unique_constraint("hd_accounts_family_xpub_key", ["family", "xpub"])
        batch_op.drop_column("key_id")


@contextmanager
def _sqlite_rows_set_aside() -> Iterator[None]:
    """On SQLite, empty hd_accounts while batch mode rebuilds it, then put its rows back."""
    # The rebuild drops the old table. With foreign keys on (make_engine turns them on, and
    # the pragma is a no-op inside the migration's transaction) dropping a table that
    # orders point at fails; with checks deferred, SQLite counts the violations and never
    # uncounts them, so the commit fails. Deleting the rows first (checks deferred) and
    # inserting them into the rebuilt table makes SQLite count each violation and then its
    # repair. No foreign key to hd_accounts has an ON DELETE action at this revision.
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    bind.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # until this transaction ends
    bind.exec_driver_sql("CREATE TEMP TABLE hd_accounts_aside AS SELECT * FROM hd_accounts")
    bind.exec_driver_sql("DELETE FROM hd_accounts")
    yield
    rebuilt = [row[1] for row in bind.exec_driver_sql("PRAGMA main.table_info(hd_accounts)")]
    columns = ", ".join(f'"{name}"' for name in rebuilt)  # the schema's names, no input
    bind.exec_driver_sql(
        f"INSERT INTO hd_accounts ({columns}) SELECT {columns} FROM hd_accounts_aside"  # noqa: S608
    )
    bind.exec_driver_sql("DROP TABLE hd_accounts_aside")


def _backfill() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(accounts.c.id, accounts.c.merchant_id, accounts.c.family, accounts.c.xpub)
    ).all()
    key_ids: dict[int, str] = {}
    holders: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account_id, merchant_id, family, xpub in rows:
        try:
            key_ids[account_id] = account_key_id(xpub)
        except ValueError as exc:
            raise RuntimeError(f"hd_accounts row {account_id}: unreadable xpub: {exc}") from exc
        holders[family, key_ids[account_id]].append(merchant_id)
    shared = [(family, owners) for (family, _), owners in holders.items() if len(owners) > 1]
    if shared:
        # their orders draw addresses from one key, and only an operator can say whose key
        # it is; picking one here would silently take it from the others
        listing = "; ".join(f"{family}: {', '.join(sorted(owners))}" for family, owners in shared)
        raise RuntimeError(
            f"merchants share a key under different xpub strings ({listing}); it is one"
            " merchant's: correct the others' hd_accounts rows by hand, then upgrade again"
        )
    for account_id, key_id in key_ids.items():
        bind.execute(sa.update(accounts).where(accounts.c.id == account_id).values(key_id=key_id))
