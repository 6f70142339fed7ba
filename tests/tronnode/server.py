"""The HTTP side of the local node: a ThreadingHTTPServer on 127.0.0.1 with test controls.

Besides serving the chain, it records every request (path, headers, body) and can inject the
failures real providers produce: HTTP 429/503/403 answers, java-tron's own rate-limiter body,
and slow answers for client timeouts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.tronnode import api, wire
from tests.tronnode.chain import Chain

CONTENT_TYPE = "application/json; charset=utf-8"  # [SRC §0]
OVERLOADED = "class java.lang.IllegalAccessException : lack of computing resources"  # [SRC §9]
DAILY_QUOTA = (  # TronGrid's 403 body text [§9, andelf/tronpy#148]
    "Exceed the user daily usage (100000), the maximum query frequency is 1 time per second"
)


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the node received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Fault:
    """A canned answer given instead of the real one."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: Only requests to this path get the fault (None: the next request, whatever it is).
    path: str | None = None


class LaggingView:
    """The chain as a backend ``behind`` blocks behind the head sees it (behind a balancer).

    java-tron answers for a block it lacks as for none: ``{}`` headers, ``[]`` receipts
    [SRC §1/§2], and its getnodeinfo shows its own lower head.
    """

    def __init__(self, chain: Chain, behind: int) -> None:
        self._chain, self._top = chain, chain.head().number - behind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def head(self, solid: bool = False) -> Any:
        """The lagging backend's head (its solid head never above it)."""
        head = self._chain.head(solid)
        return head if head.number <= self._top else self._chain.block(self._top)

    def block(self, number: int, solid: bool = False) -> Any:
        """The block, or None above the lagging backend's head."""
        return self._chain.block(number, solid) if number <= self._top else None


class TronNode:
    """A running local TRON HTTP API. Use as a context manager or call start()/stop()."""

    def __init__(self, chain: Chain | None = None) -> None:
        self.chain = chain or Chain()
        self.requests: list[Request] = []
        self._faults: deque[Fault] = deque()
        self._lags: list[list[Any]] = []  # [path, blocks behind, requests left]
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.node = self  # type: ignore[attr-defined]
        # a short poll keeps shutdown() quick: one node starts and stops per test
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def start(self) -> TronNode:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TronNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- chain shortcuts ----

    def transfer(self, frm: str, to: str, amount: int, **kwargs: Any) -> str:
        """Queue a token transfer (see Chain.transfer); returns its txID."""
        return self.chain.transfer(frm, to, amount, **kwargs)

    def fund(self, holder: str, sun: int) -> None:
        """Give ``holder`` TRX (sun), creating its account (see Chain.fund)."""
        self.chain.fund(holder, sun)

    def produce_block(self, count: int = 1) -> int:
        """Pack the queue into a block (plus ``count - 1`` empty ones); returns the head number."""
        return self.chain.produce_block(count).number

    def orphan(self, number: int, **kwargs: Any) -> list[str]:
        """Drop unsolidified blocks from ``number`` on (see Chain.orphan)."""
        return self.chain.orphan(number, **kwargs)

    # ---- failure injection ----

    def rate_limit(
        self, n: int, status: int = 429, body: bytes | None = None, retry_after: float | None = None
    ) -> None:
        """Answer the next ``n`` requests with ``status``; TronGrid's 429 body is unknown [§12]."""
        default = {403: wire.fastjson({"Error": DAILY_QUOTA})}.get(
            status, b'{"Error":"Too Many Requests"}\n'
        )
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        self._inject(n, Fault(status, default if body is None else body, headers))

    def overload(self, n: int, path: str | None = None) -> None:
        """Answer the next ``n`` requests (to ``path``) with java-tron's rate-limiter error
        (status 200) [§9]."""
        self._inject(n, Fault(200, wire.fastjson(wire.error(OVERLOADED)), path=path))

    def stall(self, n: int, seconds: float, path: str | None = None) -> None:
        """Answer the next ``n`` requests (to ``path``) only after ``seconds``: the node
        still does the work, the client may have given up (to trip client timeouts)."""
        self._inject(n, Fault(0, b"", delay=seconds, path=path))

    def lag(self, behind: int, requests: int = 1, path: str | None = None) -> None:
        """Answer the next ``requests`` requests (to ``path``, or any) from a backend that is
        ``behind`` blocks behind the head, as a provider's balancer may."""
        with self._lock:
            self._lags.append([path, behind, requests])

    def _lagging(self, path: str) -> int | None:
        """How far behind the backend answering ``path`` now is, if a lag applies."""
        with self._lock:
            for entry in self._lags:
                if entry[0] in (None, path) and entry[2] > 0:
                    entry[2] -= 1
                    return entry[1]
        return None

    def _inject(self, n: int, fault: Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * n)

    # ---- inspection ----

    def count(self, path: str) -> int:
        """How many requests reached ``path`` (e.g. "/wallet/getblockbynum")."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def _record(self, request: Request) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for fault in self._faults:
                if fault.path in (None, request.path):
                    self._faults.remove(fault)
                    return fault
            return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Jetty: tronpy reuses one session
    server_version = "Jetty"
    # headers and body go out in two writes; with Nagle on, a kept-alive client waits
    # ~40 ms for the delayed ACK on every request
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        node: TronNode = self.server.node  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = node._record(Request(method, url.path, dict(self.headers.items()), body))
        if fault and fault.delay:
            time.sleep(fault.delay)  # a slow node; the real answer follows
            fault = None
        if fault:
            self._send(fault.status, fault.body, fault.headers)
            return
        query = dict(parse_qsl(url.query))
        behind = node._lagging(url.path)
        chain = node.chain if behind is None else LaggingView(node.chain, behind)
        status, payload = api.dispatch(chain, method, url.path, query, body)
        self._send(status, payload)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output, not an access log."""
