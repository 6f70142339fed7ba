"""Detection latency on the devnet: from the block that completes an order's confirmations
to the shop's receiver holding the verified ``order.paid`` webhook of that order.

    .venv/bin/python -m bench.latency [--orders 100] [--database URL] [--confirmations 3]

What runs, as in production: anvil (automine off, so this script decides when each block
is mined), the API (an in-process werkzeug server, used to register the webhook endpoint
and create the orders), and ``gateway watch`` and ``gateway worker`` as separate processes
configured through GATEWAY_* variables, with the watcher's poll interval and the worker's
dispatch interval at their defaults (``gateway.core.config``). The database is PostgreSQL
in a scratch schema (dropped at the end); ``--database sqlite`` uses a temporary file. The
shop is a local HTTP server that checks every webhook with ``standardwebhooks`` before
counting it and answers 204.

The chain then makes blocks at random intervals (uniform in 0.1-0.9 s by default), each
holding one order's payment, and ``confirmations - 1`` empty blocks after the last one. The
order paid in block N is confirmed by block N + confirmations - 1: its latency runs from the
wall time just before the ``anvil_mine`` call that makes that block (the block cannot be seen
earlier) to the moment the receiver has verified the signature of the first ``order.paid``
for the order. Orders overlap in time, as a busy shop's do, and blocks come at random
phases of the watcher's poll. The first ``--warmup`` orders are paid the same way but not
counted. The shop subscribes to ``order.confirming`` and ``order.paid``.

Reports the median and p90 against the goal, one poll interval + 1 s, and splits the median
into where the time goes, from the timestamps the gateway writes: block -> event in the
outbox (watcher: poll wait, scan, commit), -> delivery row (dispatcher pass), -> attempt
started (enqueue, RQ pickup, claim), -> verified at the shop (signed POST).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins
from redis import Redis
from rq import Queue, Worker
from standardwebhooks import Webhook
from werkzeug.serving import make_server

from bench.report import Row, save
from gateway.cli import migrate
from gateway.core import addresses
from gateway.core import config as gateway_config
from gateway.core.models import ChainCursor, Event, Merchant
from gateway.web import auth, db
from gateway.web.app import create_app
from gateway.web.chains import drivers
from webhooks.models import Delivery, DeliveryAttempt

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get(
    "GATEWAY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MNEMONIC = "test test test test test test test test test test test junk"
AMOUNT = "10.00"
TIMEOUT = 120.0


class Shop(ThreadingHTTPServer):
    """The shop's webhook endpoint: verifies each message, notes when order.paid arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ShopHandler)
        self.secret = ""
        self.lock = threading.Lock()
        #: order id -> wall time its first verified order.paid was held
        self.paid: dict[str, float] = {}
        self.messages = 0
        self.duplicates = 0
        self.rejected = 0

    @property
    def url(self) -> str:
        """Where the gateway posts."""
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks"


class _ShopHandler(BaseHTTPRequestHandler):
    server: Shop
    protocol_version = "HTTP/1.1"
    # headers and body leave in separate writes: no Nagle delay on the kept-alive connection
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            message = Webhook(self.server.secret).verify(body, dict(self.headers))
        except Exception:  # a forged or broken message is not held
            with self.server.lock:
                self.server.rejected += 1
            self._answer(400)
            return
        held = time.time()
        with self.server.lock:
            self.server.messages += 1
            if message["type"] == "order.paid":
                order = message["data"]["id"]
                if order in self.server.paid:
                    self.server.duplicates += 1
                else:
                    self.server.paid[order] = held
        self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _database(arg: str | None, tmp: Path) -> tuple[str, str, str | None]:
    """(URL, description, scratch schema to drop) for ``--database``."""
    if arg == "sqlite":
        return f"sqlite:///{tmp / 'latency.db'}", "SQLite (WAL file)", None
    server = arg or POSTGRES
    if not server.startswith("postgresql"):
        return server, server.split(":")[0], None
    # never touch the database's own tables: work in a schema of our own
    scratch = f"bench_{uuid.uuid4().hex[:8]}"
    _schema(server, f'CREATE SCHEMA "{scratch}"')
    joiner = "&" if "?" in server else "?"
    return f"{server}{joiner}options=-csearch_path%3D{scratch}", "PostgreSQL", scratch


def _schema(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def _shop_account(app) -> str:
    """Merchant, watch-only xpub and API key, straight in the database as an operator would."""
    seed = Bip39SeedGenerator(MNEMONIC).Generate()
    xpub = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(1)
    with app.app_context(), db.transaction() as session:
        merchant = Merchant(name="Latency Shop")
        session.add(merchant)
        session.flush()
        addresses.register_xpub(
            session, merchant.id, drivers()["devnet"], xpub.PublicKey().ToExtended()
        )
        _, key = auth.create_api_key(session, merchant, auth.SCOPES, name="bench")
    return key


def _wait(condition, what: str, timeout: float = TIMEOUT, logs: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = logs.read_text()[-3000:] if logs and logs.exists() else ""
            raise SystemExit(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.05)


def _percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1), linear between closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _breakdown(engine: sa.Engine, blocks: dict[str, float]) -> dict[str, list[float]]:
    """Per order, seconds spent in each stage, from the timestamps the gateway wrote."""
    stages: dict[str, list[float]] = {
        "watcher": [],
        "dispatcher": [],
        "queue": [],
        "post": [],
    }
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                Event.data,
                Event.created_at,
                Delivery.created_at.label("delivery_at"),
                DeliveryAttempt.started_at,
                DeliveryAttempt.latency_ms,
            )
            .join(Delivery, Delivery.event_id == Event.id)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .where(Event.type == "order.paid")
            .order_by(DeliveryAttempt.started_at)
        ).all()
    seen = set()
    for row in rows:
        order = row.data["id"]
        if order not in blocks or order in seen:
            continue  # the first attempt is the one that reached the shop first
        seen.add(order)
        event, delivery = row.created_at.timestamp(), row.delivery_at.timestamp()
        stages["watcher"].append(event - blocks[order])
        stages["dispatcher"].append(delivery - event)
        stages["queue"].append(row.started_at.timestamp() - delivery)
        stages["post"].append(row.latency_ms / 1000)
    return stages


def main() -> None:
    """Run the devnet, the gateway and the shop; pay the orders; print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100, help="orders measured")
    parser.add_argument("--warmup", type=int, default=5, help="orders paid first, not counted")
    parser.add_argument("--confirmations", type=int, default=3)
    parser.add_argument(
        "--database", help="server URL (default: PostgreSQL, scratch schema) or 'sqlite'"
    )
    parser.add_argument("--gap", type=float, default=0.5, help="mean seconds between blocks")
    parser.add_argument("--seed", type=int, default=9, help="seed of the block intervals")
    parser.add_argument("--keep-logs", action="store_true", help="print the processes' logs")
    args = parser.parse_args()

    from devtools.devnet import Devnet, free_port  # dev tooling: from the checkout only

    defaults = gateway_config.validate({})
    poll = defaults["watcher"]["poll_interval"]
    dispatch = defaults["webhooks"]["dispatch_interval"]
    goal = poll + 1.0
    redis_url = gateway_config.load()["redis"]["url"]
    tmp = tempfile.TemporaryDirectory()
    logs = Path(tmp.name) / "gateway.log"
    rng = random.Random(args.seed)
    processes: list[subprocess.Popen] = []
    devnet = server = shop = log = None
    scratch = None
    url = ""
    try:
        devnet = Devnet.start()
        token = devnet.deploy_token()
        total = args.warmup + args.orders
        devnet.mint(token, devnet.accounts[0].address, total * 10 * 10**6)
        url, backend, scratch = _database(args.database, Path(tmp.name))
        migrate.upgrade(url)
        queue = f"bench-latency-{uuid.uuid4().hex[:8]}"
        port = free_port()
        env = {
            "GATEWAY_DATABASE__URL": url,
            "GATEWAY_REDIS__URL": redis_url,
            "GATEWAY_SERVER__BASE_URL": f"http://127.0.0.1:{port}",
            "GATEWAY_CHAINS__DEVNET__DRIVER": "evm",
            "GATEWAY_CHAINS__DEVNET__RPC_URL": devnet.rpc_url,
            "GATEWAY_CHAINS__DEVNET__CHAIN_ID": "31337",
            "GATEWAY_CHAINS__DEVNET__TOKEN": token,
            "GATEWAY_CHAINS__DEVNET__CONFIRMATIONS": str(args.confirmations),
            "GATEWAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
            "GATEWAY_WEBHOOKS__QUEUE": queue,
        }
        # nothing from the caller's environment: the defaults are what is measured
        for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
            del os.environ[name]
        os.environ.update(env)

        app = create_app()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request is noise
        key = _shop_account(app)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = f"http://127.0.0.1:{port}/api/v1"
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"

        shop = Shop()
        threading.Thread(target=shop.serve_forever, daemon=True).start()
        endpoint = http.post(
            f"{api}/webhook-endpoints",
            json={"url": shop.url, "event_types": ["order.confirming", "order.paid"]},
            timeout=10,
        )
        endpoint.raise_for_status()
        shop.secret = endpoint.json()["secret"]

        log = open(logs, "w")  # noqa: SIM115  (closed at the end)
        for command in ("watch", "worker"):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gateway", command],
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        redis = Redis.from_url(redis_url)
        _wait(
            lambda: Worker.count(connection=redis, queue=Queue(queue, connection=redis)) > 0,
            "the worker",
            logs=logs,
        )
        engine = sa.create_engine(url)

        def cursor_exists() -> bool:
            with engine.connect() as conn:
                return conn.scalar(sa.select(sa.func.count()).select_from(ChainCursor)) > 0

        _wait(cursor_exists, "the watcher", logs=logs)

        # orders first (the API is not what is timed here)
        orders = []
        for n in range(total):
            response = http.post(
                f"{api}/orders",
                json={"amount": AMOUNT, "chain": "devnet", "reference": f"cart-{n}"},
                headers={"Idempotency-Key": f"latency-{n}"},
                timeout=10,
            )
            response.raise_for_status()
            orders.append(response.json())

        # from here on blocks are mined by this script only
        devnet.rpc("evm_setAutomine", False)
        head = devnet.w3.eth.block_number
        mined: dict[int, float] = {}  # block number -> wall time just before it was mined
        paid_in: dict[str, int] = {}  # order id -> block holding its payment

        def mine_after(gap_started: float, raw: bytes | None) -> int:
            nonlocal head
            gap = rng.uniform(0.1, 2 * args.gap - 0.1)
            time.sleep(max(0.0, gap_started + gap - time.monotonic()))
            if raw is not None:
                devnet.w3.eth.send_raw_transaction(raw)
            mined[head + 1] = time.time()
            devnet.rpc("anvil_mine", "0x1")
            head += 1
            return head

        started = time.monotonic()
        for order in orders:
            gap_started = time.monotonic()
            raw = devnet.signed_transfer(token, 0, order["address"], 10 * 10**6)
            block = mine_after(gap_started, raw)
            receipt = devnet.w3.eth.get_transaction_receipt(devnet.w3.keccak(raw))
            if receipt["blockNumber"] != block or receipt["status"] != 1:
                raise SystemExit(f"payment of {order['id']} not in block {block}")
            paid_in[order["id"]] = block
        for _ in range(args.confirmations - 1):
            mine_after(time.monotonic(), None)
        chain_seconds = time.monotonic() - started

        measured = [order["id"] for order in orders[args.warmup :]]
        _wait(
            lambda: all(order in shop.paid for order in measured),
            f"order.paid of all {len(measured)} orders ({len(shop.paid)} so far)",
            timeout=60,
            logs=logs,
        )
        confirmed_at = {order: mined[paid_in[order] + args.confirmations - 1] for order in measured}
        latencies = [shop.paid[order] - confirmed_at[order] for order in measured]
        stages = _breakdown(engine, confirmed_at)
        engine.dispose()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if server is not None:
            server.shutdown()
        if shop is not None:
            shop.shutdown()
        if devnet is not None:
            devnet.stop()
        if log is not None:
            log.close()
        if args.keep_logs and logs.exists():
            print(logs.read_text())
        if scratch is not None:
            _schema(args.database or POSTGRES, f'DROP SCHEMA "{scratch}" CASCADE')
        tmp.cleanup()

    median = statistics.median(latencies)
    p90 = _percentile(latencies, 0.9)
    setup = (
        f"poll_interval {poll:g} s, dispatch_interval {dispatch:g} s, "
        f"{args.confirmations} confirmations, {backend}, 1 in-process worker"
    )
    print(
        f"{len(latencies)} orders (+{args.warmup} warm-up), a block every {args.gap:g} s on "
        f"average ({chain_seconds:.0f} s of chain); {setup}"
    )
    print(
        f"shop: {shop.messages} verified webhooks, {shop.duplicates} duplicate order.paid, "
        f"{shop.rejected} rejected"
    )
    print(
        "latency, confirming block -> verified order.paid: "
        f"min {min(latencies):.2f} s, median {median:.2f} s, p90 {p90:.2f} s, "
        f"max {max(latencies):.2f} s"
    )
    print("median per stage (gateway timestamps):")
    for stage, what in (
        ("watcher", "block -> event in the outbox (poll wait, scan, commit)"),
        ("dispatcher", "event -> delivery row (dispatcher pass)"),
        ("queue", "delivery row -> attempt started (enqueue, RQ pickup, claim)"),
        ("post", "signed POST -> shop answered"),
    ):
        values = stages[stage]
        if values:
            print(
                f"  {stage:10} {statistics.median(values):6.3f} s  "
                f"(p90 {_percentile(values, 0.9):.3f} s)  {what}"
            )
    goal_text = f"<= 1 poll interval + 1 s = {goal:g} s"
    rows = [
        Row(
            figure=f"detection latency, median ({len(latencies)} orders; {setup})",
            ours=f"{median:.2f} s",
            baseline=f"{goal:.2f} s (the goal)",
            ratio=f"{median / goal:.2f}",
            goal=goal_text,
            met=median <= goal,
        ),
        Row(
            figure="detection latency, p90 (same run)",
            ours=f"{p90:.2f} s",
            baseline=f"{goal:.2f} s (the goal)",
            ratio=f"{p90 / goal:.2f}",
            goal=f"{goal_text} (asked of the median only)",
            met=p90 <= goal,
        ),
    ]
    save("latency", rows)
    for row in rows:
        met = "yes" if row.met else "NO"
        print(f"{row.figure}: {row.ours} vs {row.baseline}, ratio {row.ratio}, met: {met}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
