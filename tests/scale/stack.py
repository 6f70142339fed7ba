"""The pieces of the scale-out test: the gateway's processes under a supervisor, a shop
that verifies every webhook, API clients that record every answer, a payer on the devnet
and a monitor of the watcher lease."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import requests
from eth_account import Account
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parents[2]


# -- processes ----------------------------------------------------------------------------


@dataclass
class Managed:
    """One supervised process: its command, its log, and what happened to it."""

    name: str
    command: list[str]
    log: Path
    process: subprocess.Popen | None = None
    #: SIGKILLed by the test on purpose: the supervisor leaves it dead
    killed: bool = False
    #: (time, exit status) of every exit the test did not cause
    exits: list[tuple[float, int]] = field(default_factory=list)


class Stack:
    """The gateway's processes, started as an operator would, restarted like systemd's
    ``Restart=always`` when one exits unasked (and every such exit is recorded)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.processes: dict[str, Managed] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._thread.start()

    def run(self, *args: str, timeout: float = 120) -> str:
        """Run a one-off ``gateway`` command (migrations, operator commands); its output."""
        result = subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"gateway {' '.join(args)}: {result.stderr[-3000:]}"
        return result.stdout

    def start(self, name: str, *command: str) -> Managed:
        """Start ``python -m <command>`` as its own process group, logging to a file."""
        managed = Managed(name, [sys.executable, "-m", *command], self.logs / f"{name}.log")
        with self._lock:
            self.processes[name] = managed
            self._spawn(managed)
        return managed

    def _spawn(self, managed: Managed) -> None:
        out = open(managed.log, "ab")  # noqa: SIM115  (the child holds it)
        managed.process = subprocess.Popen(
            managed.command,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def pid(self, name: str) -> int:
        process = self.processes[name].process
        assert process is not None
        return process.pid

    def kill(self, name: str) -> float:
        """SIGKILL a process (and its group) without warning; the time it was sent."""
        with self._lock:
            managed = self.processes[name]
            managed.killed = True
            assert managed.process is not None
            at = time.time()
            os.killpg(managed.process.pid, signal.SIGKILL)
        managed.process.wait(10)
        return at

    def _supervise(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                for managed in self.processes.values():
                    process = managed.process
                    if managed.killed or process is None or process.poll() is None:
                        continue
                    managed.exits.append((time.time(), process.returncode))
                    with open(managed.log, "ab") as out:
                        out.write(
                            f"\n=== supervisor: exited with {process.returncode}, "
                            "restarted ===\n".encode()
                        )
                    self._spawn(managed)

    def unexpected_exits(self) -> dict[str, list[tuple[float, int]]]:
        """Exits the test did not cause, by process name."""
        with self._lock:
            return {m.name: list(m.exits) for m in self.processes.values() if m.exits}

    def stop(self) -> None:
        """Stop the supervisor, then every process (SIGTERM, SIGKILL after 20 s)."""
        self._stop.set()
        self._thread.join(5)
        for managed in self.processes.values():
            process = managed.process
            if process is None or process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for managed in self.processes.values():
            process = managed.process
            if process is None:
                continue
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def tails(self, chars: int = 3000) -> str:
        """The end of every process's log, for a failure message."""
        parts = []
        for managed in self.processes.values():
            try:
                text = managed.log.read_text(errors="replace")[-chars:]
            except OSError:
                text = ""
            parts.append(f"--- {managed.name} ---\n{text}")
        return "\n".join(parts)


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


# -- the shop's webhook receiver ----------------------------------------------------------


@dataclass
class Arrival:
    """One verified webhook: when it arrived, its event id and type."""

    at: float
    msg_id: str
    type: str
    order_id: str | None


class Shop(ThreadingHTTPServer):
    """The shop's endpoint: verifies every message (Standard Webhooks) before counting it,
    answers 204, and counts arrivals per webhook-id."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ShopHandler)
        self.secret = ""
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.rejected = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks"

    def per_id(self) -> Counter[str]:
        with self.lock:
            return Counter(arrival.msg_id for arrival in self.arrivals)

    def first_arrivals(self) -> dict[str, float]:
        """When each webhook-id first arrived."""
        first: dict[str, float] = {}
        with self.lock:
            for arrival in self.arrivals:
                first.setdefault(arrival.msg_id, arrival.at)
        return first


class _ShopHandler(BaseHTTPRequestHandler):
    server: Shop
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            message = Webhook(self.server.secret).verify(body, dict(self.headers))
        except Exception:  # a forged or broken message is refused and not counted
            with self.server.lock:
                self.server.rejected += 1
            self._answer(400)
            return
        data = message.get("data") or {}
        arrival = Arrival(
            time.time(),
            self.headers["webhook-id"],
            message["type"],
            data.get("order_id") or data.get("id"),
        )
        with self.server.lock:
            self.server.arrivals.append(arrival)
        self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


# -- API clients ----------------------------------------------------------------------------


@dataclass
class Answer:
    """One HTTP answer (or a failure to get one) as a client saw it."""

    at: float
    method: str
    route: str
    status: int | None
    retry_after: str | None
    error: str | None = None
    body: str = ""
    #: how long the call took
    seconds: float = 0.0


class Api:
    """The gateway's API as the shop's clients call it; every answer is recorded.

    A 503 with Retry-After is retried after that many seconds (at most 5) with the same
    request, Idempotency-Key included, as a well-behaved client does.
    """

    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.key = key
        self.lock = threading.Lock()
        self.answers: list[Answer] = []
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.key}"
        return session

    def call(self, method: str, path: str, route: str, **kwargs: Any) -> requests.Response:
        """Call until an answer other than 503-with-Retry-After comes; the final answer."""
        for _ in range(30):
            began = time.monotonic()
            try:
                response = self._session().request(method, self.base + path, timeout=30, **kwargs)
            except requests.RequestException as exc:
                self._note(Answer(time.time(), method, route, None, None, type(exc).__name__))
                time.sleep(0.5)
                continue
            retry_after = response.headers.get("Retry-After")
            answer = Answer(time.time(), method, route, response.status_code, retry_after)
            answer.seconds = time.monotonic() - began
            if response.status_code >= 400:
                answer.body = response.text[:300]
            self._note(answer)
            if response.status_code == 503 and retry_after and retry_after.isdigit():
                time.sleep(min(int(retry_after), 5))
                continue
            return response
        raise AssertionError(f"{method} {path}: no answer after 30 tries")

    def _note(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def create_order(self, number: int, amount: str) -> dict[str, Any]:
        response = self.call(
            "POST",
            "/api/v1/orders",
            "POST /orders",
            json={"amount": amount, "chain": "devnet", "reference": f"cart-{number}"},
            headers={"Idempotency-Key": f"scale-{number}"},
        )
        assert response.status_code == 201, response.text
        return response.json()


class Pollers:
    """Clients reading orders all along (a checkout page polls its order's status)."""

    def __init__(self, api: Api, orders: list[dict], threads: int, pause: float) -> None:
        self.api, self.orders, self.pause = api, orders, pause
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True, name=f"poller-{n}")
            for n in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, n: int) -> None:
        i = n
        while not self.stop.is_set():
            if self.orders:
                order = self.orders[i % len(self.orders)]
                self.api.call("GET", f"/api/v1/orders/{order['id']}", "GET /orders/{id}")
            if i % 5 == 0:
                self.api.call("GET", "/api/v1/orders?limit=20", "GET /orders")
            i += 7
            self.stop.wait(self.pause)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(40)


# -- the devnet -----------------------------------------------------------------------------


class Payer:
    """Pays orders from devnet account 0: signed token transfers, one block each (automine),
    sent as fast as asked; remembers when each order's payment was sent."""

    def __init__(self, devnet, token: str) -> None:
        self.devnet, self.token = devnet, token
        self.account = devnet.accounts[0]
        self.nonce = devnet.w3.eth.get_transaction_count(self.account.address, "pending")
        self.sent: dict[str, float] = {}
        self.hashes: dict[str, bytes] = {}
        self.contract = devnet.token(token)

    def pay(self, order: dict[str, Any]) -> None:
        units = int(order["amount_base_units"])
        data = self.contract.encode_abi("transfer", args=[order["address"], units])
        tx = {
            "chainId": 31337,
            "nonce": self.nonce,
            "to": self.token,
            "data": data,
            "value": 0,
            "gas": 150_000,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        raw = Account.sign_transaction(tx, self.account.private_key).raw_transaction
        self.sent[order["id"]] = time.time()
        self.hashes[order["id"]] = bytes(self.devnet.w3.eth.send_raw_transaction(raw))
        self.nonce += 1

    def all_succeeded(self) -> list[str]:
        """Orders whose payment transaction did not succeed (should be none)."""
        bad = []
        for order_id, tx_hash in self.hashes.items():
            receipt = self.devnet.w3.eth.get_transaction_receipt(tx_hash)
            if receipt["status"] != 1:
                bad.append(order_id)
        return bad


class Miner:
    """Mines an empty block every ``interval`` seconds: confirmations keep coming."""

    def __init__(self, devnet, interval: float) -> None:
        self.devnet, self.interval = devnet, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="miner")
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.devnet.rpc("anvil_mine", "0x1")
            except Exception:  # the next tick mines
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


# -- the watcher lease ----------------------------------------------------------------------


class LeaseMonitor:
    """Reads chain_cursors every 50 ms and records each change of the chain's owner."""

    def __init__(self, dsn: str, chain: str) -> None:
        self.dsn, self.chain = dsn, chain
        self.changes: list[tuple[float, str | None]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="lease-monitor")
        self.thread.start()

    def owner(self) -> str | None:
        return self.changes[-1][1] if self.changes else None

    def _run(self) -> None:
        conn = None
        while not self.stop.wait(0.05):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
                row = conn.execute(
                    "SELECT owner FROM chain_cursors WHERE chain = %s", (self.chain,)
                ).fetchone()
            except psycopg.Error:
                conn = None  # the database restarts: try again
                continue
            owner = row[0] if row else None
            if not self.changes or self.changes[-1][1] != owner:
                self.changes.append((time.time(), owner))
        if conn is not None:
            conn.close()

    def first_owner_after(self, at: float, other_than: str) -> tuple[float, str] | None:
        """The first change after ``at`` to an owner other than ``other_than``."""
        for when, owner in self.changes:
            if when >= at and owner not in (None, other_than):
                return when, owner
        return None

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``, linear between closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def peak_rate(times: list[float], window: float) -> float:
    """The most events in any ``window`` seconds, per second."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best / window


def dump(report: dict[str, Any], path: Path) -> None:
    """Write the figures of a run as JSON (and print them)."""
    text = json.dumps(report, indent=2, default=str)
    path.write_text(text)
    print(text)


def group_by(items, key) -> dict[Any, list]:
    grouped: dict[Any, list] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped
