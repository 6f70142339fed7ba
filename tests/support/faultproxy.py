"""A tiny JSON-RPC HTTP proxy in front of a real node that injects provider faults on demand.

It speaks the real wire format (HTTP status codes, Retry-After, JSON-RPC error objects),
so the driver under test runs its normal code paths against a real node behind it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import requests

TOO_MANY_RESULTS = "query returned more than 10000 results"
HANG_LIMIT = 30.0  # a hung request gives up by itself so no thread outlives a test run


class FaultProxy:
    """Forward JSON-RPC to ``upstream``; answer with queued faults instead when told to."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._faults: deque[tuple[str, Any]] = deque()
        self._max_log_range: int | None = None
        self._lagging: list[int] = []  # blocks behind, one entry per eth_getLogs request
        self._hang_method: str | None = None  # hang the next request calling this method
        self._strip_timestamps = False
        self._release = threading.Event()
        #: Every request received, by JSON-RPC method (faulted ones included).
        self.received: Counter[str] = Counter()
        #: Requests passed on to the node, by JSON-RPC method.
        self.forwarded: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's endpoint, to be used as the driver's rpc_url."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- telling it what to do ------------------------------------------------------

    def rate_limit(self, n: int = 1, retry_after: str | None = "0") -> None:
        """Answer the next ``n`` requests with HTTP 429 (and this Retry-After header)."""
        self._queue(n, ("status", (429, retry_after)))

    def unavailable(self, n: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``n`` requests with HTTP 503."""
        self._queue(n, ("status", (503, retry_after)))

    def hang_on(self, method: str) -> None:
        """Hold the next request that calls ``method`` (until ``release`` or stop)."""
        with self._lock:
            self._release.clear()
            self._hang_method = method

    def hang(self, n: int = 1) -> None:
        """Hold the next ``n`` requests without answering (until ``release`` or stop)."""
        self._release.clear()
        self._queue(n, ("hang", None))

    def release(self) -> None:
        """Let hung requests go (their connections close without an answer)."""
        self._release.set()

    def refuse_log_ranges_wider_than(self, blocks: int | None) -> None:
        """Answer eth_getLogs over more than ``blocks`` blocks with a JSON-RPC error."""
        with self._lock:
            self._max_log_range = blocks

    def lag(self, behind: int, requests: int = 1) -> None:
        """Answer the next ``requests`` requests holding an eth_getLogs from a backend that is
        ``behind`` blocks behind: it has no logs and no headers above its own head."""
        with self._lock:
            self._lagging.extend([behind] * requests)

    def strip_block_timestamps(self, strip: bool = True) -> None:
        """Leave ``blockTimestamp`` off logs, as nodes before it was specified do."""
        with self._lock:
            self._strip_timestamps = strip

    def reset(self) -> None:
        """Drop pending faults, the range limit and the counters."""
        with self._lock:
            self._faults.clear()
            self._lagging.clear()
            self._strip_timestamps = False
            self._max_log_range = None
            self.received.clear()
            self.forwarded.clear()
        self._release.set()

    def _queue(self, n: int, fault: tuple[str, Any]) -> None:
        with self._lock:
            self._faults.extend([fault] * n)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Begin serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free any hung request."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- per request ------------------------------------------------------------------

    def _decide(self, calls: list[dict[str, Any]]) -> tuple[str, Any]:
        """Count the request and pick what to do with it: forward or a fault."""
        with self._lock:
            for call in calls:
                self.received[call.get("method", "?")] += 1
            if self._faults:
                return self._faults.popleft()
            if self._hang_method and any(c.get("method") == self._hang_method for c in calls):
                self._hang_method = None
                return "hang", None
            limit = self._max_log_range
            for call in calls:
                wide = limit is not None and _log_range(call) > limit
                if call.get("method") == "eth_getLogs" and wide:
                    return "refuse_range", call.get("id")
            for call in calls:
                self.forwarded[call.get("method", "?")] += 1
            if self._lagging and any(c.get("method") == "eth_getLogs" for c in calls):
                return "lag", self._lagging.pop(0)
        return "forward", None

    def _rpc(self, method: str, params: list[Any]) -> Any:
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return requests.post(self.upstream, json=payload, timeout=HANG_LIMIT).json()["result"]

    def _as_lagging(self, calls: list[dict[str, Any]], replies: Any, behind: int) -> Any:
        """Rewrite the node's answers as a node ``behind`` blocks behind would give them."""
        top = int(self._rpc("eth_blockNumber", []), 16) - behind
        listed = replies if isinstance(replies, list) else [replies]
        by_id = {call.get("id"): call for call in calls}
        for reply in listed:
            call = by_id.get(reply.get("id"), {})
            result = reply.get("result")
            if call.get("method") == "eth_getLogs" and isinstance(result, list):
                reply["result"] = [log for log in result if int(log["blockNumber"], 16) <= top]
            elif call.get("method") == "eth_getBlockByNumber" and isinstance(result, dict):
                reply["result"] = None if int(result["number"], 16) > top else result
        return replies

    def _finish(self, replies: Any) -> Any:
        """Apply the standing rewrites (timestamps) to the node's answers."""
        with self._lock:
            strip = self._strip_timestamps
        if strip:
            for reply in replies if isinstance(replies, list) else [replies]:
                result = reply.get("result") if isinstance(reply, dict) else None
                if isinstance(result, list):
                    for log in result:
                        if isinstance(log, dict):
                            log.pop("blockTimestamp", None)
        return replies


def _log_range(call: dict[str, Any]) -> float:
    """Blocks covered by an eth_getLogs call; infinite for tags like "latest"."""
    try:
        query = call["params"][0]
        return int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
    except (KeyError, IndexError, TypeError, ValueError):
        return float("inf")


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes; with Nagle on, a kept-alive client
        # waits ~40 ms for the delayed ACK on every request
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                parsed = json.loads(body)
            except ValueError:
                self._reply(400, b'{"error": "not JSON"}')
                return
            calls = parsed if isinstance(parsed, list) else [parsed]
            action, arg = proxy._decide(calls)
            if action == "hang":
                proxy._release.wait(HANG_LIMIT)
                self.close_connection = True
            elif action == "status":
                status, retry_after = arg
                headers = {"Retry-After": retry_after} if retry_after is not None else {}
                self._reply(status, b'{"error": "slow down"}', headers)
            elif action == "refuse_range":
                error = {"code": -32005, "message": TOO_MANY_RESULTS}
                payload = {"jsonrpc": "2.0", "id": arg, "error": error}
                self._reply(200, json.dumps(payload).encode())
            else:
                upstream = requests.post(
                    proxy.upstream,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=HANG_LIMIT,
                )
                if upstream.status_code != 200:
                    self._reply(upstream.status_code, upstream.content)
                    return
                replies = upstream.json()
                if action == "lag":
                    replies = proxy._as_lagging(calls, replies, arg)
                self._reply(200, json.dumps(proxy._finish(replies)).encode())

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: pytest output is for failures."""

    return Handler
