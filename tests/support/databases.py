"""Test databases: a migrated SQLite template copied per test, a PostgreSQL schema per run."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from gateway.cli import migrate
from gateway.core.db import Base

POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_reachable() -> bool:
    """Whether the test PostgreSQL server answers."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def sqlite_template(directory: Path) -> Path:
    """A migrated SQLite file to copy for each test."""
    path = directory / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    """A fresh database URL holding a copy of the template."""
    path = directory / f"{uuid.uuid4().hex}.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


class PostgresSchema:
    """A private schema in the test database, migrated once and emptied between tests."""

    def __init__(self) -> None:
        self.name = f"gw_test_{uuid.uuid4().hex[:12]}"
        self.url = f"{POSTGRES_URL}?options=-csearch_path%3D{self.name}"
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.name}"'))
        admin.dispose()
        migrate.upgrade(self.url)
        self.engine = sa.create_engine(self.url)

    def empty(self) -> None:
        """Delete every row, keeping the schema (much faster than migrating again)."""
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    def drop(self) -> None:
        """Remove the schema and everything in it."""
        self.engine.dispose()
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{self.name}" CASCADE'))
        admin.dispose()
