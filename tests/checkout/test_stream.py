"""/pay/<id>/events: the checkout page's live state, pushed by Server-Sent Events."""

from __future__ import annotations

import pytest

from tests.events.sse import SseReader


@pytest.fixture
def app_config(app_config):
    """Quick heartbeats, and room for two streams per order."""
    app_config["events"] = {"heartbeat_seconds": 0.5, "streams_per_order": 2}
    return app_config


def test_the_state_comes_at_once_then_with_each_change_and_the_stream_ends_when_paid(server, buyer):
    order = buyer.order("12.5")
    stream = SseReader(f"{server}/pay/{order['id']}/events", {})
    assert stream.status == 200
    assert stream.response.headers["Cache-Control"] == "no-store"
    first = stream.next()
    assert first.event == "state" and first.json()["status"] == "pending"
    assert first.json() == buyer.status(order["id"]) | {"expires_in": first.json()["expires_in"]}
    buyer.receive(order["id"], 2_500_000)
    partly = stream.next().json()
    assert (partly["status"], partly["amount_remaining"]) == ("pending", "10")
    buyer.receive(order["id"], 10_000_000, confirmed=True)
    buyer.confirm_all(order["id"])
    states = [stream.next().json()["status"]]
    while states[-1] != "paid":
        states.append(stream.next().json()["status"])
    assert stream.ended.wait(5)  # nothing more can change for the buyer
    stream.close()


def test_one_order_only_and_a_cap_per_order(server, buyer):
    order, other = buyer.order("1"), buyer.order("2")
    url = f"{server}/pay/{order['id']}/events"
    streams = [SseReader(url, {}) for _ in range(2)]
    assert [s.status for s in streams] == [200, 200]
    refused = SseReader(url, {})
    assert (refused.status, refused.response.headers["Retry-After"]) == (503, "5")
    elsewhere = SseReader(f"{server}/pay/{other['id']}/events", {})
    assert elsewhere.status == 200
    assert elsewhere.next().json()["amount"] == "2"
    assert SseReader(f"{server}/pay/ord_unknown/events", {}).status == 404
    for stream in [*streams, elsewhere]:
        stream.close()
