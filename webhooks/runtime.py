"""What a worker process needs, built once per process from the configuration.

A forked child (rq's work horse) must not reuse the parent's pooled database
connections or HTTP sockets, so the runtime notices a new pid and renews them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa
from redis import Redis
from rq import Queue
from sqlalchemy.orm import Session, sessionmaker

from gateway.core import config as gateway_config
from gateway.core.db import make_engine
from webhooks import models as _models  # noqa: F401  (registers the tables)
from webhooks import schedule, ssrf

USER_AGENT = "usdt-gateway-webhooks/1"


@dataclass
class Runtime:
    """Engine, sessions, Redis queue, HTTP session and the [webhooks] settings."""

    settings: dict[str, Any]
    redis_url: str
    engine: sa.Engine
    sessions: sessionmaker[Session]
    redis: Redis
    queue: Queue
    delays: list[float]
    http: requests.Session
    # [events]: the worker's housekeeping purges events past their retention
    events: dict[str, Any] = field(default_factory=lambda: {"retention_days": 0})
    pid: int = field(default_factory=os.getpid)
    _job_engine: sa.Engine | None = field(default=None, repr=False)
    _job_connection: sa.Connection | None = field(default=None, repr=False)

    @property
    def autocommits(self) -> bool:
        """Whether delivery jobs run each statement in its own transaction (PostgreSQL).

        There a job's claim, and its record, is one statement: one round trip instead of
        three with BEGIN and COMMIT. SQLite runs in the process, so it keeps transactions.
        """
        return self.engine.dialect.name == "postgresql"

    @property
    def job_engine(self) -> sa.Engine:
        """The engine delivery jobs use: autocommitting where :attr:`autocommits`."""
        if self._job_engine is None:
            self._job_engine = (
                self.engine.execution_options(isolation_level="AUTOCOMMIT")
                if self.autocommits
                else self.engine
            )
        return self._job_engine

    def job_connection(self) -> sa.Connection:
        """This process's connection for delivery jobs, kept between jobs.

        A checkout per job costs a pool round (and on PostgreSQL a ping); one connection
        held per worker process costs nothing. :meth:`drop_job_connection` after an error.
        """
        if self._job_connection is None or self._job_connection.closed:
            self._job_connection = self.job_engine.connect()
        return self._job_connection

    def drop_job_connection(self) -> None:
        """Forget the job connection (it may be broken); the next job opens another."""
        conn, self._job_connection = self._job_connection, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: S110  (already broken: nothing to save)
                pass

    @property
    def job_timeout(self) -> int:
        """Seconds an RQ job may run: the request, its connect and a margin."""
        return int(self.settings["timeout"] * 2) + 5

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery belongs to its job; longer than any live job."""
        return self.job_timeout + 5.0


_current: Runtime | None = None


def redis_client(url: str, blocking: bool = False) -> Redis:
    """A Redis client that fails fast when the server is down (workers block on purpose)."""
    if blocking:
        return Redis.from_url(url, socket_connect_timeout=2)
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def configure(config: Mapping[str, Any]) -> Runtime:
    """Build this process's runtime from a validated gateway configuration."""
    global _current
    settings = dict(config["webhooks"])
    delays = schedule.parse(settings["retry_schedule"])
    engine = make_engine(config["database"]["url"])
    sa.event.listen(engine, "connect", _relaxed_sync)
    redis = redis_client(config["redis"]["url"])
    _current = Runtime(
        settings=settings,
        redis_url=config["redis"]["url"],
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        redis=redis,
        queue=Queue(settings["queue"], connection=redis),
        delays=delays,
        http=_http(settings),
        events=dict(config["events"]),
    )
    return _current


def current() -> Runtime:
    """The runtime of this process, loading the configuration on first use."""
    global _current
    if _current is None:
        configure(gateway_config.load())
    assert _current is not None
    if _current.pid != os.getpid():
        # forked: leave the parent's connections to the parent, open our own
        _current.engine.dispose(close=False)
        _current._job_connection = None
        _current.http = _http(_current.settings)
        _current.pid = os.getpid()
    return _current


def _relaxed_sync(dbapi_connection, _record) -> None:
    # The worker's commits (claims, attempt records, dispatch batches) need not wait for the
    # disk: a crash of the database host may undo the last ones, which only means sending
    # the same webhook-id again, as at-least-once delivery allows. Events themselves are
    # written durably by the web process. This roughly doubles delivery throughput.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    else:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
        dbapi_connection.commit()


def reset() -> None:
    """Forget this process's runtime (tests build one per database)."""
    global _current
    if _current is not None and _current.pid == os.getpid():
        _current.drop_job_connection()
    _current = None


def _http(settings: Mapping[str, Any]) -> requests.Session:
    session = ssrf.http_session(allow_private=settings["allow_private_targets"])
    session.headers["User-Agent"] = USER_AGENT
    return session
