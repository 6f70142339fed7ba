"""Idempotent replays keep no secret in clear, and stored answers are purged after 24 h."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.core import idempotency
from gateway.core.models import IdempotencyKey, utcnow
from gateway.web import db

ENDPOINTS = "/api/v1/webhook-endpoints"
HOOK = {"url": "https://shop.example/hook", "event_types": ["order.paid"]}


@pytest.fixture
def chain_settings():
    """No chain is needed here."""
    return {}


@pytest.fixture
def merchant(make_merchant):
    """A merchant with every scope and no xpub."""
    return make_merchant("shop", xpubs={})


def _create(client, merchant, key="hook-1"):
    headers = {**merchant.headers, "Idempotency-Key": key}
    return client.post(ENDPOINTS, json=HOOK, headers=headers)


def _stored(app) -> list[str]:
    with app.app_context():
        rows = db.session().scalars(sa.select(IdempotencyKey)).all()
        return [json.dumps(row.response) for row in rows]


def test_the_stored_answer_keeps_no_secret_and_the_replay_is_the_same_bytes(app, client, merchant):
    first = _create(client, merchant)
    assert first.status_code == 201
    secret = first.json["secret"]
    stored = _stored(app)
    assert len(stored) == 1
    assert secret not in stored[0] and secret.removeprefix("whsec_") not in stored[0]
    replay = _create(client, merchant)
    assert (replay.status_code, replay.get_data()) == (201, first.get_data())


def test_a_stored_secret_opens_only_for_its_own_key_and_merchant(app, client, merchant):
    _create(client, merchant)
    with app.app_context(), db.transaction() as session:
        session.execute(sa.update(IdempotencyKey).values(key="other"))
    refused = _create(client, merchant, key="other")
    assert refused.status_code == 409
    assert refused.json["code"] == "idempotency_replay_unavailable"


def test_answers_older_than_the_retention_are_purged(app, client, merchant):
    _create(client, merchant, key="old")
    _create(client, merchant, key="new")
    with app.app_context(), db.transaction() as session:
        session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.key == "old")
            .values(created_at=utcnow() - timedelta(hours=25))
        )
    with app.app_context(), db.transaction() as session:
        assert idempotency.purge(session, retention=timedelta(hours=24)) == 1
        assert session.scalars(sa.select(IdempotencyKey.key)).all() == ["new"]


def test_a_key_past_the_retention_is_a_new_request_even_before_the_purge(app, client, merchant):
    first = _create(client, merchant)
    with app.app_context(), db.transaction() as session:
        session.execute(sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=2)))
    again = _create(client, merchant)
    assert again.status_code == 201
    assert again.json["id"] != first.json["id"]


def test_the_worker_purges_on_its_housekeeping_pass(app, client, merchant):
    from gateway.cli.worker import housekeeping
    from webhooks import runtime

    _create(client, merchant, key="old")
    with app.app_context(), db.transaction() as session:
        session.execute(
            sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=1, seconds=1))
        )
    rt = runtime.configure(app.config["GATEWAY"])
    try:
        assert housekeeping(rt) == 1
    finally:
        rt.engine.dispose()
        runtime.reset()
    assert _stored(app) == []
