"""GET /api/v1/events/ws: the same events over a WebSocket on the same server."""

from __future__ import annotations

import json

import pytest
from simple_websocket import Client
from simple_websocket import ConnectionError as HandshakeRefused

WS = "/api/v1/events/ws"


def connect(server: str, headers: dict[str, str], query: str = "") -> Client:
    return Client.connect(f"ws{server.removeprefix('http')}{WS}{query}", headers=headers)


def test_events_come_as_json_frames_and_last_event_id_resumes(server, merchant, emit):
    before = emit(merchant.id, data={"id": "ord_0"})
    socket = connect(server, {**merchant.headers, "Last-Event-ID": before})
    made = [emit(merchant.id, "order.paid", {"id": f"ord_{n}"}) for n in (1, 2)]
    got = [json.loads(socket.receive(timeout=10)) for _ in made]
    assert [e["id"] for e in got] == made
    assert got[0]["type"] == "order.paid" and got[0]["api_version"] == "v1"
    socket.close()


def test_filters_apply_and_the_socket_is_refused_without_a_key_or_upgrade(
    server, client, merchant, emit
):
    socket = connect(server, merchant.headers, "?type=order.cancelled")
    emit(merchant.id, "order.paid", {"id": "ord_1"})
    wanted = emit(merchant.id, "order.cancelled", {"id": "ord_1"})
    assert json.loads(socket.receive(timeout=10))["id"] == wanted
    socket.close()
    with pytest.raises(HandshakeRefused, match="401"):
        connect(server, {})  # the handshake is refused before any upgrade
    plain = client.get(WS, headers=merchant.headers)
    assert (plain.status_code, plain.json["code"]) == (426, "upgrade_required")
    assert client.get(WS).status_code == 401
