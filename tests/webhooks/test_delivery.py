"""Deliveries through a real worker process, real Redis and a real HTTP receiver."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

from gateway.core.models import utcnow
from tests.webhooks.support import Answer, wait_until
from webhooks import schedule
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint


def _endpoint(client, merchant, url: str, types=("*",)) -> dict:
    response = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, "event_types": list(types)},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def _delivery(query, event_id: str) -> Delivery:
    return query(lambda s: s.scalar(sa.select(Delivery).where(Delivery.event_id == event_id)))


def _status(query, event_id: str) -> str | None:
    delivery = _delivery(query, event_id)
    return delivery and delivery.status


def _attempts(query, event_id: str) -> list[DeliveryAttempt]:
    return query(
        lambda s: s.scalars(
            sa.select(DeliveryAttempt)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.event_id == event_id)
            .order_by(DeliveryAttempt.seq)
        ).all()
    )


def test_delivery_is_signed_and_verifies_with_the_standard_library(
    client, merchant, receiver, emit, query, start_worker
):
    endpoint = _endpoint(client, merchant, receiver.url())
    start_worker()
    event_id = emit(merchant.id, "order.paid", {"id": "ord_1", "amount": "12.50"})

    [request] = wait_until(lambda: receiver.to("/hook"), what="the delivery")
    body = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert body["type"] == "order.paid"
    assert body["data"] == {"id": "ord_1", "amount": "12.50"}
    assert body["timestamp"].endswith("Z")
    assert request.headers["webhook-id"] == event_id
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("usdt-gateway-webhooks")

    tampered = request.body.replace(b"12.50", b"99.99")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(tampered, request.headers)
    old = str(int(request.headers["webhook-timestamp"]) - 600)
    stale = {**request.headers, "webhook-timestamp": old}
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(request.body, stale)

    wait_until(lambda: _status(query, event_id) == "succeeded", what="success recorded")
    [attempt] = _attempts(query, event_id)
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "ok"
    assert attempt.latency_ms >= 0


def test_retries_on_500_and_timeouts_then_stops_on_2xx(
    client, merchant, receiver, emit, query, start_worker
):
    _endpoint(client, merchant, receiver.url())
    receiver.script("/hook", Answer(500), Answer(200, delay=3.0), Answer(204))
    start_worker(timeout=1.0)
    event_id = emit(merchant.id)

    wait_until(lambda: _status(query, event_id) == "succeeded", what="success")
    attempts = _attempts(query, event_id)
    assert [a.status_code for a in attempts] == [500, None, 204]
    assert "Timeout" in attempts[1].error
    assert {r.headers["webhook-id"] for r in receiver.to("/hook")} == {event_id}
    assert len(receiver.to("/hook")) == 3


def test_retry_after_is_honoured(client, merchant, receiver, emit, query, start_worker):
    _endpoint(client, merchant, receiver.url())
    receiver.script("/hook", Answer(503, headers={"Retry-After": "2"}))
    start_worker()
    event_id = emit(merchant.id)

    first, second = wait_until(lambda: receiver.to("/hook")[1:] and receiver.to("/hook"))
    # the schedule says 0.2 s; the receiver asked for 2 s
    assert second.at - first.at >= 1.9
    wait_until(lambda: _status(query, event_id) == "succeeded", what="success")


def test_410_disables_the_endpoint(client, merchant, receiver, emit, query, start_worker):
    endpoint = _endpoint(client, merchant, receiver.url())
    receiver.script("/hook", Answer(410))
    start_worker()
    event_id = emit(merchant.id)

    wait_until(lambda: _status(query, event_id) == "failed", what="failure")
    got = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=merchant.headers)
    assert got.json["enabled"] is False
    assert "410" in got.json["disabled_reason"]
    emit(merchant.id)
    assert len(receiver.to("/hook")) == 1
    redeliver = client.post(
        f"/api/v1/webhook-deliveries/{_delivery(query, event_id).id}/redeliver",
        headers=merchant.headers,
    )
    assert redeliver.status_code == 409
    assert redeliver.json["code"] == "webhook_endpoint_disabled"


def test_last_attempt_fails_the_delivery_and_flags_the_endpoint(
    client, merchant, receiver, emit, query, start_worker
):
    endpoint = _endpoint(client, merchant, receiver.url())
    receiver.script("/hook", *[Answer(500)] * 4)
    start_worker()
    event_id = emit(merchant.id)

    wait_until(lambda: _status(query, event_id) == "failed", what="failure")
    assert len(_attempts(query, event_id)) == 4  # the first try and three retries
    got = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=merchant.headers)
    assert got.json["enabled"] is True
    assert got.json["failing_since"] is not None

    # a redelivery starts a fresh schedule and clears the flag on success
    delivery_id = _delivery(query, event_id).id
    answer = client.post(
        f"/api/v1/webhook-deliveries/{delivery_id}/redeliver", headers=merchant.headers
    )
    assert answer.status_code == 202
    wait_until(lambda: _status(query, event_id) == "succeeded", what="redelivery")
    assert len(receiver.to("/hook")) == 5
    assert {r.headers["webhook-id"] for r in receiver.to("/hook")} == {event_id}
    got = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=merchant.headers)
    assert got.json["failing_since"] is None
    detail = client.get(f"/api/v1/webhook-deliveries/{delivery_id}", headers=merchant.headers)
    assert [a["status_code"] for a in detail.json["attempts"]] == [500, 500, 500, 500, 200]


def test_redeliver_during_an_attempt_waits_for_it_then_sends_again(
    client, merchant, receiver, emit, query, start_worker
):
    _endpoint(client, merchant, receiver.url(), types=["order.created"])
    _endpoint(client, merchant, receiver.url("/other"), types=["order.paid"])
    release = threading.Event()
    # the fourth attempt is the schedule's last: recorded as is, its 500 would fail the delivery
    receiver.script("/hook", *[Answer(500)] * 3, Answer(500, hold=release))
    start_worker(timeout=10.0)
    start_worker(timeout=10.0)
    event_id = emit(merchant.id)
    try:
        wait_until(lambda: len(receiver.to("/hook")) == 4, what="the last attempt in flight")
        delivery_id = _delivery(query, event_id).id
        answer = client.post(
            f"/api/v1/webhook-deliveries/{delivery_id}/redeliver", headers=merchant.headers
        )
        assert answer.status_code == 202
        # Events emitted after the redeliver are dispatched by passes that also sweep for due
        # deliveries, and the one idle worker takes jobs in order: once the second of them is
        # delivered, any job a sweep made for the redelivery has run.
        for _ in range(2):
            other = emit(merchant.id, "order.paid")
            wait_until(
                lambda other=other: (
                    other in {r.headers["webhook-id"] for r in receiver.to("/other")}
                ),
                what="an event sent by the idle worker",
            )
        assert len(receiver.to("/hook")) == 4, "a second copy went out beside the first"
    finally:
        release.set()

    # the redelivery is not lost: it is sent once the attempt in flight has ended
    wait_until(lambda: _status(query, event_id) == "succeeded", what="the redelivery")
    assert receiver.peak("/hook") == 1
    assert [a.status_code for a in _attempts(query, event_id)] == [500, 500, 500, 500, 200]
    assert _delivery(query, event_id).attempt_count == 1  # the redelivery's fresh schedule


def test_retries_keep_to_the_schedule(client, merchant, receiver, emit, query, start_worker):
    # two workers, so two dispatchers that may sweep up the same delivery at once
    delay, interval, retries = 0.3, 0.1, 8
    paths = [f"/down{n}" for n in range(6)]
    for path in paths:
        _endpoint(client, merchant, receiver.url(path))
        receiver.script(path, *[Answer(500)] * (retries + 1))
    start_worker(retry_schedule=" ".join([str(delay)] * retries), dispatch_interval=interval)
    start_worker(retry_schedule=" ".join([str(delay)] * retries), dispatch_interval=interval)
    emit(merchant.id)
    # the longest wait the schedule allows, the sweep's period, and room for the attempt itself
    bound = delay * (1 + schedule.JITTER) + interval + 0.5

    def gaps() -> dict[str, list[float]]:
        spacing = {}
        for path in paths:
            at = [r.at for r in receiver.to(path)]
            if 0 < len(at) <= retries:  # still owed an attempt: its wait so far counts
                at.append(time.monotonic())
            spacing[path] = [later - earlier for earlier, later in itertools.pairwise(at)]
        return spacing

    def finished_or_late() -> bool:
        late = any(gap > bound for each in gaps().values() for gap in each)
        return late or all(len(receiver.to(p)) == retries + 1 for p in paths)

    wait_until(finished_or_late, timeout=retries * bound * 2 + 10, what="the retries")
    worst = max(gap for each in gaps().values() for gap in each)
    assert worst <= bound, gaps()


def test_nothing_is_lost_while_redis_is_down(
    client, merchant, receiver, emit, query, start_worker, own_redis
):
    _endpoint(client, merchant, receiver.url())
    start_worker(redis_url=own_redis.url)
    first = emit(merchant.id)
    wait_until(lambda: receiver.to("/hook"), what="the first delivery")

    own_redis.stop()
    written = [emit(merchant.id) for _ in range(5)]
    wait_until(
        lambda: all(_delivery(query, e) is not None for e in written), what="dispatch without Redis"
    )
    own_redis.start()

    ids = lambda: {r.headers["webhook-id"] for r in receiver.to("/hook")}  # noqa: E731
    wait_until(lambda: ids() == {first, *written}, timeout=30, what="every delivery")


def test_worker_killed_mid_job_delivers_at_least_once(
    client, merchant, receiver, emit, query, start_worker
):
    _endpoint(client, merchant, receiver.url())
    receiver.script("/hook", Answer(200, delay=5.0))
    doomed = start_worker(timeout=1.0)
    event_id = emit(merchant.id)
    wait_until(lambda: receiver.to("/hook"), what="the first request")
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(10)

    start_worker(timeout=1.0)
    wait_until(lambda: _status(query, event_id) == "succeeded", timeout=40)
    seen = [r.headers["webhook-id"] for r in receiver.to("/hook")]
    assert len(seen) >= 2
    assert set(seen) == {event_id}  # the receiver dedupes on webhook-id


def test_rotation_signs_with_both_secrets_during_the_overlap(
    client, merchant, receiver, emit, query, start_worker
):
    endpoint = _endpoint(client, merchant, receiver.url())
    rotated = client.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=merchant.headers
    )
    assert rotated.status_code == 200
    old, new = endpoint["secret"], rotated.json["secret"]
    assert old != new and rotated.json["previous_secret_expires_at"]
    start_worker()
    emit(merchant.id)
    [request] = wait_until(lambda: receiver.to("/hook"))
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)

    # the overlap ends: only the new secret signs
    query(
        lambda s: s.execute(
            sa.update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint["id"])
            .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
    )
    emit(merchant.id)
    _, later = wait_until(lambda: receiver.to("/hook")[1:] and receiver.to("/hook"))
    Webhook(new).verify(later.body, later.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(later.body, later.headers)


def test_private_targets_are_refused_at_send_time(
    client, merchant, receiver, emit, query, start_worker
):
    # registered while private targets were allowed (or a name that later resolves inward)
    _endpoint(client, merchant, receiver.url())
    start_worker(allow_private_targets=False)
    event_id = emit(merchant.id)

    wait_until(lambda: _attempts(query, event_id), what="an attempt")
    attempt = _attempts(query, event_id)[0]
    assert attempt.status_code is None
    assert "non-public address" in attempt.error
    assert receiver.to("/hook") == []


def test_a_slow_endpoint_does_not_delay_others(
    client, merchant, receiver, emit, query, start_worker
):
    _endpoint(client, merchant, receiver.url("/slow"), types=["order.paid"])
    _endpoint(client, merchant, receiver.url("/fast"))
    receiver.script("/slow", Answer(200, delay=4.0))
    start_worker(timeout=5.0)
    start_worker(timeout=5.0)
    emit(merchant.id, "order.paid")
    wait_until(lambda: receiver.to("/slow"), what="the slow endpoint to be busy")
    for _ in range(3):
        emit(merchant.id)

    # one worker is stuck on the slow endpoint; the other serves everyone else
    wait_until(lambda: len(receiver.to("/fast")) == 4, timeout=3, what="the fast endpoint")


def test_burst_worker_delivers_what_is_due_and_exits(
    client, merchant, receiver, emit, query, start_worker
):
    _endpoint(client, merchant, receiver.url())
    event_ids = {emit(merchant.id) for _ in range(3)}
    worker = start_worker(args=["--burst"])
    assert worker.wait(30) == 0
    assert {r.headers["webhook-id"] for r in receiver.to("/hook")} == event_ids
    assert all(_status(query, e) == "succeeded" for e in event_ids)
