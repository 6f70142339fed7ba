"""Statements compiled once and run on the raw DBAPI cursor, for the webhook hot path.

SQLAlchemy's per-execution work (cache key, execution context, result wrapping) costs
more than SQLite takes to run the few statements of one delivery attempt. This keeps the
statements written with SQLAlchemy and applies their types' bind and result processing,
without the rest. It reads compiled-statement attributes that are not public API, so the
webhook tests are what guard it across SQLAlchemy upgrades (pinned below 2.2).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


class Prepared:
    """A statement compiled once for a dialect and run on the raw DBAPI cursor.

    SQLAlchemy's per-execution work (cache key, execution context, result wrapping) costs
    more than SQLite takes to run the hot statements of an attempt; this applies the same
    bind and result processing of the statement's types, without the rest.
    """

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        processors = compiled._bind_processors
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        self.binds = [
            (name, compiled.escaped_bind_names.get(name, name), processors.get(name))
            for name in names
        ]
        self.fixed = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        # Python-side defaults (updated_at's onupdate): computed per execution, as SQLAlchemy
        self.defaults = {
            column.key: (column.onupdate if column in compiled.update_prefetch else column.default)
            for column in [*compiled.insert_prefetch, *compiled.update_prefetch]
        }
        self.columns = [column[0] for column in compiled._result_columns]
        self.results = [
            column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns
        ]

    def params(self, values: dict[str, Any]) -> tuple | dict:
        out = []
        for name, _escaped, process in self.binds:
            if name in values:
                value = values[name]
            elif name in self.defaults:
                default = self.defaults[name]
                value = default.arg(None) if default.is_callable else default.arg
            else:
                value = self.fixed[name]
            out.append(value if process is None or value is None else process(value))
        if self.positional:
            return tuple(out)
        return {escaped: value for (_n, escaped, _p), value in zip(self.binds, out, strict=True)}

    def row(self, raw: Any) -> dict[str, Any] | None:
        if raw is None:
            return None
        return {
            name: value if process is None or value is None else process(value)
            for name, process, value in zip(self.columns, self.results, raw, strict=True)
        }


_cache: dict[tuple[str, int], Prepared] = {}


def prepare(statement: sa.Executable, dialect: sa.Dialect) -> Prepared:
    key = (dialect.name, id(statement))
    prepared = _cache.get(key)
    if prepared is None:
        prepared = _cache[key] = Prepared(statement, dialect)
    return prepared


def run(conn: sa.Connection, statement: sa.Executable, params: dict[str, Any]) -> Any:
    """Execute on the raw DBAPI cursor of ``conn``; the cursor, for its rows and rowcount."""
    prepared = prepare(statement, conn.dialect)
    cursor = conn.connection.dbapi_connection.cursor()
    cursor.execute(prepared.sql, prepared.params(params))
    return cursor
