"""A real HTTP receiver, a private redis-server and a waiting helper for webhook tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Answer:
    """How to answer one request: status, headers, a pause, and an event to wait for first."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b"ok"
    hold: threading.Event | None = None


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records requests and answers as told.

    ``script(path, *answers)`` queues answers for a path; when none is left it answers 200.
    ``peak(path)`` is the most requests to a path that were ever open at once.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._answers: dict[str, list[Answer]] = {}
        self._open: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # headers and body leave in separate writes: without this, Nagle and the
            # sender's delayed ACK add ~40 ms per answer on a kept-alive connection
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, _lower(self.headers.items()), body, time.monotonic())
                    )
                    queued = receiver._answers.get(self.path) or []
                    answer = queued.pop(0) if queued else Answer()
                    receiver._open[self.path] = receiver._open.get(self.path, 0) + 1
                    receiver._peak[self.path] = max(
                        receiver._peak.get(self.path, 0), receiver._open[self.path]
                    )
                try:
                    if answer.hold is not None:
                        answer.hold.wait(60)
                    time.sleep(answer.delay)
                finally:
                    # closed before the answer leaves: the sender cannot have it yet, so a
                    # request that overlaps this one is counted, one that follows it is not
                    with receiver._lock:
                        receiver._open[self.path] -= 1
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the sender gave up (timeout) or died

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        """The URL of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` with ``answers``, in order."""
        with self._lock:
            self._answers.setdefault(path, []).extend(answers)

    def to(self, path: str = "/hook") -> list[Received]:
        """The requests received on ``path`` so far."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def peak(self, path: str = "/hook") -> int:
        """The most requests to ``path`` that were open at the same time."""
        with self._lock:
            return self._peak.get(path, 0)

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class RedisServer:
    """A throwaway redis-server on a free port that a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start (or restart) the server on the same port, empty."""
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, 10, "redis-server to start")

    def stop(self) -> None:
        """Stop the server (its data is lost, as after a crash without persistence)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
