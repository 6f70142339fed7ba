"""A database that is down or cuts the connection is a 503 with Retry-After, never a 500.

The scale-out test restarts PostgreSQL under load; these are the two cases it meets, one
request at a time: a server that refuses connections (while it restarts), and a pooled
connection the server has terminated (``pg_terminate_backend``, as a restart does).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from gateway.core.models import Merchant
from gateway.web import auth, db
from gateway.web.app import create_app
from gateway.web.errors import DATABASE_RETRY_AFTER
from tests.support.databases import POSTGRES_URL
from tests.webhooks.support import free_port


def _unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    body = response.get_json()
    assert body["code"] == "database_unavailable"
    assert body["status"] == 503
    # nothing about the server, the statement or the driver reaches the client
    text = response.get_data(as_text=True)
    for leak in ("127.0.0.1", "psycopg", "SELECT", "postgres", "Traceback"):
        assert leak not in text


# a well-formed key, so that answering it takes a look in the database
SOME_KEY = f"{auth.KEY_PREFIX}abcdef_secret"


def test_a_database_that_refuses_connections_is_503_with_retry_after():
    app = create_app(
        {
            "server": {"secret_key": "x"},
            "database": {"url": f"postgresql+psycopg://postgres:pw@127.0.0.1:{free_port()}/no"},
            "chains": {},
        }
    )
    client = app.test_client()
    _unavailable(client.get("/api/v1/orders", headers={"Authorization": f"Bearer {SOME_KEY}"}))
    _unavailable(
        client.post(
            "/api/v1/orders",
            json={"amount": "1", "chain": "devnet", "reference": "r"},
            headers={"Authorization": f"Bearer {SOME_KEY}", "Idempotency-Key": "k"},
        )
    )
    app.extensions["db.engine"].dispose()


def test_a_connection_cut_by_the_server_is_503_then_the_next_request_works(postgres_schema):
    """The pooled connection is terminated as a restart does; no 500, and it recovers."""
    postgres_schema.empty()
    # a name only this test's connections carry: other people's sessions are never touched
    name = f"gw-503-{uuid.uuid4().hex[:10]}"
    app = create_app(
        {
            "server": {"secret_key": "x"},
            "database": {"url": f"{postgres_schema.url}&application_name={name}"},
            "chains": {},
        }
    )
    try:
        with app.app_context(), db.transaction() as session:
            merchant = Merchant(name="cut")
            session.add(merchant)
            session.flush()
            _, key = auth.create_api_key(session, merchant, ["orders:read"])
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/v1/orders", headers=headers).status_code == 200

        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            cut = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": name},
            ).all()
        admin.dispose()
        assert cut, "the app's pooled connection was not found"

        # the pooled connection was used a moment ago, so it is not pinged: the request
        # meets the terminated connection itself
        _unavailable(client.get("/api/v1/orders", headers=headers))
        assert client.get("/api/v1/orders", headers=headers).status_code == 200
    finally:
        app.extensions["db.engine"].dispose()
