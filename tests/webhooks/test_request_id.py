"""A request id follows a request through the web process into the webhook job it caused."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from gateway.core.logs import JsonFormatter
from tests.conftest import both_chains
from webhooks import jobs, outbox
from webhooks.models import Delivery


@pytest.fixture
def chain_settings(devnet, tron_node):
    """Orders need a chain: the devnet."""
    return both_chains(devnet, tron_node)


@pytest.fixture
def merchant(make_merchant):
    """A merchant with xpubs, to create orders."""
    return make_merchant("shop")


def _lines(caplog) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_the_request_id_reaches_the_webhook_job_the_request_caused(
    app, client, merchant, receiver, local_runtime, query, caplog
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="webhooks")  # a success is logged at DEBUG
    client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url("/hook"), "event_types": ["order.created"]},
        headers=merchant.headers,
    )
    created = client.post(
        "/api/v1/orders",
        json={"amount": "5", "chain": "devnet", "reference": "r-1"},
        headers={**merchant.headers, "X-Request-ID": "shop-req-42"},
    )
    assert created.status_code == 201
    assert created.headers["X-Request-ID"] == "shop-req-42"
    assert [line["request_id"] for line in _lines(caplog) if "request_id" in line]
    caplog.clear()
    outbox.run_once(local_runtime)
    delivery_id = query(lambda s: s.scalar(sa.select(Delivery.id)))
    assert jobs.deliver(delivery_id) == "succeeded"
    job_lines = [line for line in _lines(caplog) if line["logger"] == "webhooks.jobs"]
    assert job_lines, "the job logs its attempt"
    assert {line.get("request_id") for line in job_lines} == {"shop-req-42"}


@pytest.mark.parametrize("given", [None, "", "x" * 200, "bad id\twith tab", "ünï"])
def test_a_missing_or_unusable_request_id_is_replaced(client, merchant, given):
    headers = dict(merchant.headers)
    if given is not None:
        headers["X-Request-ID"] = given
    answer = client.get("/api/v1/orders", headers=headers)
    rid = answer.headers["X-Request-ID"]
    assert rid != given and 16 <= len(rid) <= 64 and rid.isascii()
