"""Order creation through gunicorn on PostgreSQL against a bare Flask app doing one INSERT.

    .venv/bin/python -m bench.order_create [--requests 1000] [--rounds 5] [--database URL]

Both sides run under real gunicorn with the same settings, ``-w 2 -k gthread --threads 4``:
two processes for the two CPUs this is meant for, and threads because gunicorn's sync
worker closes the connection after every answer (no keep-alive) and because a thread
waiting on PostgreSQL (a row lock, a commit's WAL flush) should leave the CPU to another
request, as in production. Both use the same PostgreSQL database, in a scratch schema
the bench creates and drops, and the same load client: 8 kept-alive HTTP/1.1 connections
from one asyncio process (a minimal client, so it takes as little of the two CPUs as
possible from the servers), sending the same request bytes to both sides.

- bare: ``bare_app()`` below; its POST parses the JSON, runs one
  ``INSERT ... RETURNING`` of an order-like row (same columns as an order's public part,
  a unique id and a unique address) in its own transaction, and answers it with jsonify.
  It ignores the Authorization and Idempotency-Key headers.
- gateway: ``gateway.web.app:create_app()`` on a migrated database, merchants with an EVM
  xpub and an API key, ``POST /api/v1/orders`` on the ``devnet`` chain (a local anvil with
  the test token) with the merchant's key and a fresh Idempotency-Key per request, the
  rate limit counted in Redis (set high enough never to refuse). Everything the API does
  per order: key lookup, rate limit, idempotency check, index allocation, the order and
  its ``order.created`` event, the idempotency row, the answer.

Timed: a fixed number of requests per run, from the first byte sent to the last answer
read, with all 8 connections opened before the clock starts; every answer must be a 201.
Both servers start once and get an untimed warm-up (imports, pools, the driver's token
decimals and the chain's first cursor). Each round runs the bare side, the gateway with
one merchant's key and the gateway with requests spread round-robin over 4 merchants'
keys, in an order rotated from round to round; a figure is the median over rounds of the
gateway's rate divided by the bare rate of the same round (goal: >= 0.5). At the end every
merchant's orders are checked to hold indexes 0..n-1 exactly once (gap-free, no reuse).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

if not __package__:  # run as a script: make the repository importable (tests.*)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa
from bip_utils import Bip44Coins
from flask import Flask, jsonify, request

from bench.report import Row, save
from devtools.devnet import CHAIN_ID, Devnet, free_port

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GUNICORN = ["-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive", "10"]
CLIENTS = 8
MERCHANTS = 4
GOAL = 0.5
PATH = "/api/v1/orders"

BARE_TABLE = """
CREATE TABLE bare_orders (
    seq BIGSERIAL PRIMARY KEY,
    id VARCHAR(32) NOT NULL UNIQUE,
    merchant_id VARCHAR(32) NOT NULL,
    chain VARCHAR(32) NOT NULL,
    reference VARCHAR(200) NOT NULL,
    amount VARCHAR(80) NOT NULL,
    address VARCHAR(100) NOT NULL,
    payment_uri VARCHAR(500) NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    metadata JSON NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    UNIQUE (chain, address)
)
"""
BARE_INSERT = sa.text(
    "INSERT INTO bare_orders"
    " (id, merchant_id, chain, reference, amount, address, payment_uri, metadata, expires_at)"
    " VALUES (:id, :merchant_id, :chain, :reference, :amount, :address, :payment_uri,"
    " :metadata, :expires_at)"
    " RETURNING id, chain, reference, amount, address, payment_uri, status, metadata,"
    " expires_at, created_at"
)


def bare_app() -> Flask:
    """The baseline: parse JSON, one INSERT ... RETURNING, jsonify (gunicorn's app factory)."""
    engine = sa.create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10)
    app = Flask("bare")

    @app.post(PATH)
    def create():
        body = request.get_json()
        address = "0x" + secrets.token_hex(20)
        with engine.begin() as conn:
            row = conn.execute(
                BARE_INSERT,
                {
                    "id": "ord_" + secrets.token_hex(10),
                    "merchant_id": "bare",
                    "chain": body["chain"],
                    "reference": body["reference"],
                    "amount": body["amount"],
                    "address": address,
                    "payment_uri": f"ethereum:0xtoken@1/transfer?address={address}",
                    "metadata": json.dumps(body.get("metadata", {})),
                    "expires_at": datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1),
                },
            )
            answer = dict(row.mappings().one())
        return jsonify(answer), 201

    return app


# -- the load client ----------------------------------------------------------------------


def drive(port: int, requests: list[bytes], clients: int = CLIENTS) -> float:
    """Send ``requests`` over ``clients`` kept-alive connections; requests per second."""
    return asyncio.run(_drive(port, requests, clients))


async def _drive(port: int, requests: list[bytes], clients: int) -> float:
    pending = iter(requests)  # shared by the clients: one event loop, no locking needed
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for raw in pending:
            writer.write(raw)
            status, close = await _answer(reader)
            if status != 201:
                raise SystemExit(f"port {port} answered {status}")
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(r, w) for r, w in connections))
    return len(requests) / (time.perf_counter() - started)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 answer with a Content-Length; (status, server closes)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower().split("\r\n")
    status = int(head[0].split()[1])
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection") == "close"


def order_requests(port: int, keys: list[str], count: int, tag: str) -> list[bytes]:
    """``count`` order creations, round-robin over ``keys``, each with its own references."""
    made = []
    for n in range(count):
        body = json.dumps(
            {"amount": "12.50", "chain": "devnet", "reference": f"{tag}-{n}"},
            separators=(",", ":"),
        ).encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {keys[n % len(keys)]}\r\n"
            f"Idempotency-Key: {tag}-{n}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        made.append(head.encode() + body)
    return made


# -- the two servers ----------------------------------------------------------------------


class Server:
    """One gunicorn master running ``app`` on a free port."""

    def __init__(self, name: str, app: str, env: dict[str, str], log) -> None:
        self.name, self.port = name, free_port()
        command = [sys.executable, "-m", "gunicorn", *GUNICORN]
        command += ["--graceful-timeout", "5", "-b", f"127.0.0.1:{self.port}", app]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} server exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


def gateway_config(database: str, redis_url: str, devnet: Devnet) -> dict:
    """The gateway's settings, as create_app overrides (and as environment, below)."""
    return {
        "server": {"secret_key": "bench", "rate_limit_per_minute": 10**9},
        "database": {"url": database},
        "redis": {"url": redis_url},
        "chains": {
            "devnet": {
                "driver": "evm",
                "rpc_url": devnet.rpc_url,
                "chain_id": CHAIN_ID,
                "token": devnet.usdt,
                "confirmations": 3,
            }
        },
    }


def as_environment(config: dict, prefix: str = "GATEWAY") -> dict[str, str]:
    """``{"server": {"secret_key": "x"}}`` -> ``{"GATEWAY_SERVER__SECRET_KEY": "x"}``."""
    env = {}
    for key, value in config.items():
        name = f"{prefix}{'_' if prefix == 'GATEWAY' else '__'}{key.upper()}"
        if isinstance(value, dict):
            env |= as_environment(value, name)
        else:
            env[name] = str(value)
    return env


def make_merchants(config: dict, count: int) -> list[str]:
    """``count`` merchants with their own EVM xpub and an orders:write key; the keys."""
    from gateway.core import addresses
    from gateway.core.models import Merchant
    from gateway.web import auth, db
    from gateway.web.app import create_app
    from gateway.web.chains import drivers
    from tests.support.keys import account_xpub

    app = create_app(config)
    keys = []
    with app.app_context():
        for number in range(1, count + 1):
            with db.transaction() as session:
                merchant = Merchant(name=f"bench-{number}")
                session.add(merchant)
                session.flush()
                xpub = account_xpub(Bip44Coins.ETHEREUM, account=number)
                addresses.register_xpub(session, merchant.id, drivers()["devnet"], xpub)
                _, key = auth.create_api_key(session, merchant, ["orders:write"])
                keys.append(key)
    app.extensions["db.engine"].dispose()
    return keys


def check_addresses(database: str) -> int:
    """Every merchant's orders hold indexes 0..n-1 once each; the number of orders."""
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.next_index, count(o.seq), count(DISTINCT o.hd_index),"
                " coalesce(max(o.hd_index), -1), count(DISTINCT o.address)"
                " FROM hd_accounts a LEFT JOIN orders o ON o.hd_account_id = a.id"
                " GROUP BY a.id, a.next_index"
            )
        ).all()
    engine.dispose()
    for next_index, orders, indexes, highest, addresses in rows:
        if not orders == indexes == addresses == next_index == highest + 1:
            raise SystemExit(f"addresses not gap-free and unique: {tuple(rows)}")
    return sum(row[1] for row in rows)


def _schema(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


# -- the run ------------------------------------------------------------------------------


def main() -> None:
    """Set up both sides, run the alternating rounds, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per side")
    parser.add_argument("--database", default=POSTGRES_URL, help="a PostgreSQL server URL")
    args = parser.parse_args()

    from gateway.cli import migrate
    from gateway.core import config as settings

    began = time.perf_counter()
    redis_url = settings.load()["redis"]["url"]
    scratch = f"bench_{uuid.uuid4().hex[:8]}"
    # never touch the database's own tables: everything lives in a schema of our own
    _schema(args.database, f'CREATE SCHEMA "{scratch}"')
    joiner = "&" if "?" in args.database else "?"
    database = f"{args.database}{joiner}options=-csearch_path%3D{scratch}"
    # both servers' output: shown if anything fails
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115
    devnet, servers = None, []
    try:
        migrate.upgrade(database)
        _schema(database, BARE_TABLE)
        devnet = Devnet.start()
        devnet.deploy_token()
        config = gateway_config(database, redis_url, devnet)
        keys = make_merchants(config, MERCHANTS)

        clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        bare = Server(
            "bare", "bench.order_create:bare_app()", clean | {"BENCH_DATABASE_URL": database}, log
        )
        gateway = Server(
            "gateway", "gateway.web.app:create_app()", clean | as_environment(config), log
        )
        servers = [bare, gateway]

        targets = {
            "bare": (bare, keys[:1]),
            "1 merchant": (gateway, keys[:1]),
            f"{MERCHANTS} merchants": (gateway, keys),
        }

        def run(name: str, count: int, tag: str) -> float:
            server, some_keys = targets[name]
            # the tag makes references and Idempotency-Keys unique across runs
            return drive(server.port, order_requests(server.port, some_keys, count, tag))

        names = list(targets)
        for side, name in enumerate(names):
            run(name, args.warmup, f"w{side}")

        rates: dict[str, list[float]] = {name: [] for name in names}
        for number in range(args.rounds):
            # rotated, so no side always runs right after another one
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                rates[name].append(run(name, args.requests, f"r{number}s{names.index(name)}"))
            print(
                f"round {number + 1}: "
                + ", ".join(f"{name} {rates[name][-1]:.0f}/s" for name in names),
                flush=True,
            )
        orders = check_addresses(database)
    except BaseException:
        log.seek(0)
        print(log.read()[-3000:], file=sys.stderr)
        raise
    finally:
        for server in servers:
            server.stop()
        if devnet is not None:
            devnet.stop()
        _schema(args.database, f'DROP SCHEMA "{scratch}" CASCADE')
        log.close()

    setup = f"gunicorn {' '.join(GUNICORN[:6])}, PostgreSQL, {CLIENTS} clients"
    print(f"\n{args.requests} requests x {args.rounds} rounds; {setup}")
    print(f"{orders} orders checked: every merchant's indexes gap-free, none reused")
    print(f"{'figure':<24} {'gateway/s':>10} {'bare/s':>8} {'ratio':>6}  goal")
    rows = []
    for name in names[1:]:
        ratio = statistics.median(g / b for g, b in zip(rates[name], rates["bare"], strict=True))
        ours, base = statistics.median(rates[name]), statistics.median(rates["bare"])
        print(f"{'order create, ' + name:<24} {ours:>10.0f} {base:>8.0f} {ratio:>6.2f}  >= {GOAL}")
        rows.append(
            Row.at_least(
                f"order create, {name} ({setup})",
                f"{ours:.0f} orders/s",
                f"{base:.0f} inserts/s (bare Flask, one INSERT)",
                ratio,
                GOAL,
            )
        )
    save("order_create", rows)
    print(f"total {time.perf_counter() - began:.0f}s")


if __name__ == "__main__":
    main()
