"""GET /api/v1/events/stream: Server-Sent Events on a real server, resumable, capped."""

from __future__ import annotations

import time

from gateway.core.events import API_VERSION

STREAM = "/api/v1/events/stream"


def until(stream, last: str) -> list:
    """Messages up to and including the one with id ``last``."""
    got = [stream.next()]
    while got[-1].id != last:
        got.append(stream.next())
    return got


def test_a_stream_carries_new_events_live_and_beats(sse, merchant, other_merchant, emit):
    before = emit(merchant.id, data={"id": "ord_before"})
    stream = sse(STREAM, merchant.headers)
    assert stream.status == 200
    assert stream.response.headers["Content-Type"].startswith("text/event-stream")
    theirs = emit(other_merchant.id)
    made = [emit(merchant.id, "order.paid", {"id": f"ord_{n}"}) for n in range(3)]
    got = until(stream, made[-1])
    # "from now" is the newest settled event: one written the instant before may come too
    assert [m.id for m in got if m.id != before] == made and theirs not in [m.id for m in got]
    got = [m for m in got if m.id != before]
    body = got[0].json()
    assert (body["id"], body["type"], body["api_version"]) == (made[0], "order.paid", API_VERSION)
    assert body["data"] == {"id": "ord_0"}
    assert stream.quiet(1.2)  # nothing else, but heartbeats keep coming
    assert "heartbeat" in stream.comments


def test_last_event_id_resumes_right_after_that_event(sse, merchant, emit):
    made = [emit(merchant.id, data={"id": f"ord_{n}"}) for n in range(4)]
    stream = sse(STREAM, {**merchant.headers, "Last-Event-ID": made[1]})
    assert [m.id for m in stream.take(2)] == made[2:]
    later = emit(merchant.id)
    assert stream.next().id == later


def test_filters_and_an_unknown_last_event_id(sse, merchant, emit):
    stream = sse(STREAM, merchant.headers, type=["order.paid"], order_id="ord_1")
    emit(merchant.id, "order.paid", {"id": "ord_2"})
    emit(merchant.id, "order.created", {"id": "ord_1"})
    wanted = emit(merchant.id, "order.paid", {"id": "ord_1"})
    assert stream.next().id == wanted
    assert stream.quiet(0.5)
    unknown = sse(STREAM, {**merchant.headers, "Last-Event-ID": "evt_nope"})
    assert unknown.status == 422 and unknown.response.json()["code"] == "invalid_cursor"


def test_streams_per_key_are_capped_and_a_closed_one_frees_its_slot(sse, merchant, emit):
    first, second = sse(STREAM, merchant.headers), sse(STREAM, merchant.headers)
    assert (first.status, second.status) == (200, 200)
    third = sse(STREAM, merchant.headers)
    assert third.status == 429 and third.response.json()["code"] == "too_many_streams"
    assert third.response.headers["Retry-After"]
    first.close()
    emit(merchant.id)  # the server notices the hang-up when it next writes
    for _ in range(50):
        again = sse(STREAM, merchant.headers)
        if again.status == 200:
            break
        time.sleep(0.2)
    assert again.status == 200
