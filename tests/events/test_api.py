"""GET /api/v1/events: every event the webhooks carry, paged both ways, filtered, versioned."""

from __future__ import annotations

from datetime import timedelta

from gateway.core.events import API_VERSION
from gateway.core.models import utcnow

EVENTS = "/api/v1/events"


def ids(answer) -> list[str]:
    assert answer.status_code == 200, answer.json
    return [event["id"] for event in answer.json["data"]]


def test_events_are_listed_newest_first_with_their_api_version(client, merchant, emit):
    first = emit(merchant.id, "order.created", {"id": "ord_a", "status": "pending"})
    second = emit(merchant.id, "order.paid", {"id": "ord_a", "status": "paid"})
    answer = client.get(EVENTS, headers=merchant.headers)
    assert ids(answer) == [second, first]
    newest = answer.json["data"][0]
    assert newest == {
        "type": "order.paid",
        "api_version": API_VERSION,
        "timestamp": newest["timestamp"],
        "id": second,
        "object": "event",
        "data": {"id": "ord_a", "status": "paid"},
    }
    assert newest["timestamp"].endswith("Z")
    assert answer.json["has_more"] is False


def test_pages_both_ways_and_catches_up_after_the_last_event_handled(client, merchant, emit):
    made = [emit(merchant.id, data={"id": f"ord_{n}"}) for n in range(5)]
    headers = merchant.headers
    page = client.get(EVENTS, query_string={"limit": 2}, headers=headers)
    assert ids(page) == [made[4], made[3]] and page.json["has_more"]
    query = {"limit": 2, "starting_after": made[3]}
    older = client.get(EVENTS, query_string=query, headers=headers)
    assert ids(older) == [made[2], made[1]]
    # catching up: oldest first after the last event handled, until has_more is false
    seen, cursor = [], made[1]
    while True:
        query = {"direction": "asc", "limit": 2, "starting_after": cursor}
        answer = client.get(EVENTS, query_string=query, headers=headers)
        seen += ids(answer)
        if not answer.json["has_more"]:
            break
        cursor = seen[-1]
    assert seen == made[2:]
    everything = client.get(EVENTS, query_string={"direction": "asc"}, headers=headers)
    assert ids(everything) == made


def test_filters_by_type_order_and_time(client, merchant, emit):
    created = emit(merchant.id, "order.created", {"id": "ord_x"})
    payment = emit(merchant.id, "payment.received", {"id": "pay_1", "order_id": "ord_x"})
    emit(merchant.id, "order.created", {"id": "ord_y"})
    paid = emit(merchant.id, "order.paid", {"id": "ord_x"})
    headers = merchant.headers
    by_order = client.get(EVENTS, query_string={"order_id": "ord_x"}, headers=headers)
    assert ids(by_order) == [paid, payment, created]
    by_types = client.get(
        EVENTS, query_string=[("type", "order.paid"), ("type", "payment.received")], headers=headers
    )
    assert ids(by_types) == [paid, payment]
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert ids(client.get(EVENTS, query_string={"created_gte": later}, headers=headers)) == []
    assert len(ids(client.get(EVENTS, query_string={"created_lt": later}, headers=headers))) == 4


def test_other_merchants_events_and_pings_are_not_shown(client, merchant, other_merchant, emit):
    mine = emit(merchant.id)
    theirs = emit(other_merchant.id)
    assert ids(client.get(EVENTS, headers=merchant.headers)) == [mine]
    answer = client.get(EVENTS, query_string={"starting_after": theirs}, headers=merchant.headers)
    assert (answer.status_code, answer.json["code"]) == (422, "invalid_cursor")
    bad = client.get(EVENTS, query_string={"type": "ping"}, headers=merchant.headers)
    assert bad.status_code == 422


def test_the_events_read_scope_is_needed(client, make_merchant):
    key = make_merchant("narrow", scopes="orders:read,webhooks:read", xpubs={})
    answer = client.get(EVENTS, headers=key.headers)
    assert (answer.status_code, answer.json["code"]) == (403, "insufficient_scope")
    assert client.get(EVENTS + "/stream", headers=key.headers).status_code == 403
