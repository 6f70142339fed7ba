"""Webhook throughput: the full path (outbox -> dispatcher -> RQ -> signed POST -> DB record)
against a bare RQ job doing the same single HTTP POST, side by side in one run.

    .venv/bin/python -m bench.webhooks [--events 2000] [--workers 4] [--database URL] [--fork]

Both sides use the same number of worker processes, the same worker class, the same Redis,
the same local receiver, the same body, and a kept-alive HTTP session (the full path keeps
one per worker; so does the bare job). Each round starts fresh workers, warms them up with a
few jobs, then times one batch; rounds alternate and medians are kept. The full path's clock
stops when every delivery is recorded as succeeded in the database, not when the last POST
arrives. Prints both rates and their ratio (goal: >= 0.7).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
import sqlalchemy as sa
from redis import Redis
from rq import Queue, Worker
from sqlalchemy.orm import Session

from bench.report import Row, save
from gateway.cli import migrate
from gateway.core import config as gateway_config
from gateway.core import events
from gateway.core.db import make_engine
from gateway.core.models import Merchant
from webhooks import signing
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.7


class Counter:
    """A local receiver that answers 200 at once and counts requests."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body leave in separate writes; without this, Nagle and the
            # client's delayed ACK add ~40 ms to every answer on a kept-alive connection
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with counter.lock:
                    counter.count += 1
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def wait(self, target: int, timeout: float = 120) -> float:
        """Block until ``target`` requests arrived; return the monotonic time it happened."""
        deadline = time.monotonic() + timeout
        while self.count < target:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out at {self.count}/{target} requests")
            time.sleep(0.002)
        return time.monotonic()


BODY = (
    b'{"type":"order.paid","timestamp":"2026-01-01T00:00:00Z",'
    b'"data":{"id":"ord_bench0","object":"order","amount":"12.50","status":"paid"}}'
)
_session: requests.Session | None = None


def bare_post(url: str, body: bytes) -> int:
    """The bare job: one POST on this worker's kept-alive session, as the full path does."""
    global _session
    if _session is None:
        _session = requests.Session()
    with _session.post(
        url, data=body, headers={"content-type": "application/json"}, timeout=10
    ) as response:
        return response.status_code


def start_workers(command: list[str], count: int, env: dict, redis: Redis, queue: str, log):
    """Start ``count`` worker processes and wait until RQ sees them all."""
    processes = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log) for _ in range(count)
    ]
    deadline = time.monotonic() + 30
    while Worker.count(connection=redis, queue=Queue(queue, connection=redis)) < count:
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start")
        time.sleep(0.05)
    return processes


def stop(processes: list[subprocess.Popen]) -> None:
    """Stop worker processes and wait for them."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(30)


def full_path(args, receiver: Counter, redis_url: str) -> float:
    """Events written to the outbox -> delivered by `gateway worker`; deliveries per second."""
    url = args.database
    migrate.upgrade(url)
    engine = make_engine(url)
    queue = f"bench-full-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session, session.begin():
        merchant = Merchant(name=f"bench-{uuid.uuid4().hex[:8]}")
        session.add(merchant)
        session.flush()
        session.add(
            WebhookEndpoint(
                merchant_id=merchant.id,
                url=receiver.url,
                event_types=["*"],
                secret=signing.new_secret(),
            )
        )
        merchant_id = merchant.id
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATABASE__URL": url,
        "GATEWAY_REDIS__URL": redis_url,
        "GATEWAY_WEBHOOKS__QUEUE": queue,
        "GATEWAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
        "GATEWAY_WEBHOOKS__DISPATCH_INTERVAL": "0.2",
    }
    command = [sys.executable, "-m", "gateway.cli.worker"] + (["--fork"] if args.fork else [])
    redis = Redis.from_url(redis_url)
    workers = start_workers(command, args.workers, env, redis, queue, args.log)
    try:
        # warm-up: imports, connections and prepared statements, untimed
        base = receiver.count
        _outbox(engine, merchant_id, args.warmup)
        receiver.wait(base + args.warmup)
        _recorded(engine, merchant_id, args.warmup)
        started = time.monotonic()
        _outbox(engine, merchant_id, args.events)
        receiver.wait(base + args.warmup + args.events)
        finished = _recorded(engine, merchant_id, args.warmup + args.events)
    finally:
        stop(workers)
        engine.dispose()
    return args.events / (finished - started)


def _outbox(engine: sa.Engine, merchant_id: str, count: int) -> None:
    """Write ``count`` events in one transaction, as state changes would."""
    with Session(engine) as session, session.begin():
        for n in range(count):
            events.record(session, merchant_id, "order.paid", _data(n))


def _recorded(engine: sa.Engine, merchant_id: str, count: int) -> float:
    """Wait until ``count`` deliveries of the merchant are recorded as succeeded; when."""
    query = sa.select(sa.func.count()).where(
        Delivery.merchant_id == merchant_id, Delivery.status == DeliveryStatus.SUCCEEDED
    )
    deadline = time.monotonic() + 120
    while True:
        with engine.connect() as conn:
            if conn.scalar(query) >= count:
                return time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit("deliveries were not recorded in time")
        time.sleep(0.01)


def bare_rq(args, receiver: Counter, redis_url: str) -> float:
    """The same POSTs as plain RQ jobs calling requests.post; requests per second."""
    redis = Redis.from_url(redis_url)
    name = f"bench-bare-{uuid.uuid4().hex[:8]}"
    worker_class = "rq.Worker" if args.fork else "rq.SimpleWorker"
    command = [
        sys.executable,
        "-m",
        "rq.cli",
        "worker",
        "-w",
        worker_class,
        "-q",
        "--url",
        redis_url,
        name,
    ]
    workers = start_workers(command, args.workers, dict(os.environ), redis, name, args.log)
    queue = Queue(name, connection=redis)
    try:
        # by name: run as ``python -m``, this module is __main__ here but not in the workers
        function = "bench.webhooks.bare_post"
        job = {"args": (receiver.url, BODY), "result_ttl": 0, "failure_ttl": 24 * 3600}
        # warm-up: imports and connections, untimed
        base = receiver.count
        queue.enqueue_many([Queue.prepare_data(function, **job) for _ in range(args.warmup)])
        receiver.wait(base + args.warmup)
        started = time.monotonic()
        jobs = [Queue.prepare_data(function, **job) for _ in range(args.events)]
        # the same batches as the dispatcher's
        for chunk in range(0, len(jobs), 500):
            queue.enqueue_many(jobs[chunk : chunk + 500])
        finished = receiver.wait(base + args.warmup + args.events)
    finally:
        stop(workers)
    return args.events / (finished - started)


def _data(n: int) -> dict:
    return {"id": f"ord_bench{n}", "object": "order", "amount": "12.50", "status": "paid"}


def main() -> None:
    """Run both sides and print the rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--fork", action="store_true", help="fork a work horse per job")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each side")
    parser.add_argument("--warmup", type=int, default=100, help="untimed jobs per round")
    args = parser.parse_args()
    redis_url = gateway_config.load()["redis"]["url"]
    tmp = tempfile.TemporaryDirectory()
    server_url = args.database
    scratch = f"bench_{uuid.uuid4().hex[:8]}"
    if server_url and server_url.startswith("postgresql"):
        # never touch the database's own tables: work in a schema of our own
        _schema(server_url, f'CREATE SCHEMA "{scratch}"')
        joiner = "&" if "?" in server_url else "?"
        args.database = f"{server_url}{joiner}options=-csearch_path%3D{scratch}"
    args.database = args.database or f"sqlite:///{tmp.name}/bench.db"
    receiver = Counter()
    args.log = open(Path(tmp.name) / "workers.log", "w")  # noqa: SIM115

    # alternate the two sides and keep medians: other load on the machine hits both alike
    bares, fulls = [], []
    for _ in range(args.rounds):
        bares.append(bare_rq(args, receiver, redis_url))
        fulls.append(full_path(args, receiver, redis_url))
    bare, full = statistics.median(bares), statistics.median(fulls)
    backend = args.database.split(":")[0]
    mode = "forking" if args.fork else "in-process"
    setup = f"{args.workers} {mode} workers, {backend}"
    print(f"{args.events} deliveries x {args.rounds} rounds, {setup}")
    print("bare: RQ job posts a fixed body on a kept-alive requests session; nothing else")
    print(
        "full: events in the outbox -> dispatcher makes delivery rows and enqueues -> job "
        "claims the row, reads event and secret, signs, POSTs, records the attempt; timed "
        "until every delivery is recorded"
    )
    print("bare rounds: " + ", ".join(f"{r:.0f}" for r in bares))
    print("full rounds: " + ", ".join(f"{r:.0f}" for r in fulls))
    print(f"bare RQ job (one POST):       {bare:8.1f} /s (median)")
    print(f"full webhook path:            {full:8.1f} /s (median)")
    ratio = full / bare
    print(f"ratio full / bare:            {ratio:8.2f}  (goal >= {GOAL})")
    row = Row.at_least(
        f"webhook deliveries ({args.events} x {args.rounds} rounds, {setup})",
        f"{full:.0f} deliveries/s",
        f"{bare:.0f} jobs/s (bare RQ job, one POST)",
        ratio,
        GOAL,
    )
    save(f"webhooks_{backend.split('+')[0]}", [row])
    args.log.close()
    tmp.cleanup()
    if server_url and server_url.startswith("postgresql"):
        _schema(server_url, f'DROP SCHEMA "{scratch}" CASCADE')


def _schema(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


if __name__ == "__main__":
    main()
