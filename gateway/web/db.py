"""The database in the app: one engine per app, one session per request or command."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from gateway.core.db import make_engine

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Create the engine and session factory and close the request session on teardown."""
    engine = make_engine(app.config["GATEWAY"]["database"]["url"])
    app.extensions["db.engine"] = engine
    app.extensions["db.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def session() -> Session:
    """The session of the current app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db.sessionmaker"]()
    return g.db_session


@contextmanager
def transaction() -> Iterator[Session]:
    """A fresh session whose work commits on success and rolls back on any error."""
    with current_app.extensions["db.sessionmaker"]() as db, db.begin():
        yield db


def _close_session(_exc: BaseException | None) -> None:
    db = g.pop("db_session", None)
    if db is None:
        return
    try:
        db.close()
    except sa.exc.DBAPIError:
        # the server cut the connection after the answer was made (a database restart):
        # the rollback of a dead connection has nothing to undo, and the pool drops it
        log.warning("the database connection was gone when the request ended")
