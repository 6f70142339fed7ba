"""Engine and declarative base, free of Flask: the watcher, the webhook worker and the
migrations use them outside any app."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every model."""


def make_engine(url: str) -> sa.Engine:
    """An engine tuned for the backend: SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own BEGIN handling defers locks; BEGIN IMMEDIATE below takes the
            # write lock up front so concurrent allocations serialize instead of deadlocking
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = sa.create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


# A pooled connection is pinged before use only when it sat idle that long. One in use a
# moment ago is as alive as a ping could show (a server that died since fails requests in
# flight anyway), while pool_pre_ping's ping before every checkout is a round trip more
# on every API request.
IDLE_BEFORE_PING = 1.0  # seconds


def _ping_when_idle(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("idle_since")  # None for a new connection
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # the pool drops this connection and checks out a fresh one
            raise sa.exc.DisconnectionError(str(exc)) from exc
