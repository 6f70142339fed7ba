"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import gateway.core.audit
import gateway.core.wallet.models  # noqa: F401  (registers the back office's tables)
import webhooks.models  # noqa: F401  (registers the webhook tables)
from gateway.cli.migrate import alembic_config
from gateway.core.db import Base


def test_one_linear_history():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"


def test_migrated_schema_matches_the_models(database_url):
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []
