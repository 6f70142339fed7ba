"""An HTTP proxy in front of the live gateway that fails on demand, as a network would.

Real wire format: it answers 429/503 with Retry-After, or forwards a request and then cuts
the connection before the answer reaches the client.
"""

from __future__ import annotations

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class FlakyProxy:
    """Forwards to ``upstream``; ``fail(...)`` queues faults for the next requests."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: deque[tuple[str, Any]] = deque()
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                with proxy.lock:
                    proxy.seen.append((self.command, self.path, dict(headers)))
                    fault = proxy.faults.popleft() if proxy.faults else None
                if fault and fault[0] == "status":
                    status, retry_after = fault[1]
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Type", "application/json")
                    payload = b'{"code": "busy", "status": %d, "message": "try later"}' % status
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                answer = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers,
                    timeout=30, allow_redirects=False,
                )  # fmt: skip
                if fault and fault[0] == "cut":
                    # the gateway did the work; the client never hears of it
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def fail(self, kind: str, times: int = 1, status: int = 503, retry_after: str | None = None):
        """The next ``times`` requests: ``"status"`` answers, or ``"cut"`` after forwarding."""
        with self.lock:
            self.faults.extend([(kind, (status, retry_after))] * times)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
