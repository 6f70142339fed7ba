"""An attempt ends at its deadline, whatever the receiver trickles (loopback only)."""

from __future__ import annotations

import socket
import threading
import time
from types import SimpleNamespace

import pytest

from webhooks import ssrf
from webhooks.jobs import Message, send

TRICKLE = b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n" + b"x" * 400


@pytest.fixture
def trickler():
    """A receiver that answers one byte every 0.1 s, forever as far as a client can tell."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        for byte in TRICKLE:
            if stop.wait(0.1):
                break
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    server.close()
    thread.join(timeout=5)


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickling_receiver_cannot_hold_an_attempt_past_its_deadline(trickler, where):
    rt = SimpleNamespace(settings={"timeout": 1.0}, http=ssrf.http_session(allow_private=True))
    if where == "body":
        rt.settings["timeout"] = 6.0  # the headers (45 bytes, ~4.5 s) arrive; the body not
    message = Message("evt_1", trickler, b"{}", ["whsec_" + "A" * 32], "whk_1", 0, False, None)
    started = time.monotonic()
    outcome = send(rt, message)
    elapsed = time.monotonic() - started
    # per-read timeouts alone let this run for the whole trickle (~44 s)
    assert elapsed < rt.settings["timeout"] + 2
    assert outcome.status_code is None and "deadline" in outcome.error
