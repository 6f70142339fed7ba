"""Alembic environment: the URL comes from the gateway's own configuration."""

from alembic import context

import gateway.core.accounts.models
import gateway.core.audit
import gateway.core.models
import gateway.core.oauth.models
import gateway.core.wallet.models  # noqa: F401  (registers the back office's tables)
import webhooks.models  # noqa: F401  (registers the webhook tables)
from gateway.core.db import Base, make_engine

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
