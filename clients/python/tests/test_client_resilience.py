"""Retries: 429/5xx/network errors are retried with backoff, Retry-After is honoured, and
a retried POST keeps its Idempotency-Key, so the gateway makes one order, not two."""

from __future__ import annotations

import time

import pytest
from gateway_client import APIConnectionError, Gateway, ServerError
from proxy import FlakyProxy


@pytest.fixture
def proxy(server):
    flaky = FlakyProxy(server)
    yield flaky
    flaky.close()


@pytest.fixture
def flaky_gateway(proxy, merchant):
    with Gateway(proxy.url, merchant.key, backoff=0.05, max_retries=3) as client:
        yield client


def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_order(
    flaky_gateway, gateway, proxy
):
    proxy.fail("cut")  # the order is made, the answer lost
    order = flaky_gateway.orders.create("7", "devnet", "cart-7")
    posts = [h for method, path, h in proxy.seen if method == "POST"]
    assert len(posts) == 2
    assert posts[0]["Idempotency-Key"] == posts[1]["Idempotency-Key"]
    assert [o["id"] for o in gateway.orders.list(reference="cart-7")] == [order["id"]]


def test_429_and_503_are_retried_after_retry_after(flaky_gateway, proxy):
    proxy.fail("status", status=429, retry_after="1")
    proxy.fail("status", status=503)
    started = time.monotonic()
    assert flaky_gateway.orders.list().data == []
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    assert len(proxy.seen) == 3


def test_retries_run_out_into_an_exception_with_the_code(flaky_gateway, proxy, server, merchant):
    proxy.fail("status", times=4, status=503, retry_after="0")
    with pytest.raises(ServerError) as caught:
        flaky_gateway.orders.list()
    assert (caught.value.status, caught.value.code) == (503, "busy")
    assert len(proxy.seen) == 4  # the first try and three retries
    with pytest.raises(APIConnectionError):
        Gateway("http://127.0.0.1:9", merchant.key, max_retries=1, backoff=0.01).orders.list()
