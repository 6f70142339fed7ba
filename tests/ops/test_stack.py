"""/readyz and /metrics of a running stack: gunicorn with two workers, gateway watch and
gateway worker, sharing one PROMETHEUS_MULTIPROC_DIR, on the devnet and real Redis."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests.webhooks.support import Receiver, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _environment(app_config, devnet, multiproc: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS"))}
    env.update(
        {
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
            "GATEWAY_SERVER__SECRET_KEY": "stack-secret",
            "GATEWAY_SERVER__LOG_FORMAT": "json",
            "GATEWAY_DATABASE__URL": app_config["database"]["url"],
            "GATEWAY_REDIS__URL": REDIS_URL,
            "GATEWAY_CHAINS__DEVNET__DRIVER": "evm",
            "GATEWAY_CHAINS__DEVNET__RPC_URL": devnet.rpc_url,
            "GATEWAY_CHAINS__DEVNET__CHAIN_ID": "31337",
            "GATEWAY_CHAINS__DEVNET__TOKEN": devnet.usdt,
            "GATEWAY_CHAINS__DEVNET__CONFIRMATIONS": "3",
            "GATEWAY_WATCHER__POLL_INTERVAL": "0.2",
            "GATEWAY_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
            "GATEWAY_WEBHOOKS__QUEUE": f"test-stack-{uuid.uuid4().hex[:8]}",
            "GATEWAY_WEBHOOKS__DISPATCH_INTERVAL": "0.1",
            "GATEWAY_OPS__METRICS": "true",
            "GATEWAY_OPS__MAX_DUE_DELIVERY_SECONDS": "2",
        }
    )
    return env


class Stack:
    """The three kinds of process, started and stopped by the test."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.processes = env, logs, {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, name: str, *command: str) -> None:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", *command],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )

    def web(self) -> None:
        self.start(
            "web",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{self.port}",
            "-c",
            "python:gateway.web.gunicorn",
            "gateway.web.app:create_app()",
        )
        wait_until(self._listening, 60, "gunicorn")

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()


@pytest.fixture
def stack(shop, app_config, tmp_path):
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    running = Stack(_environment(app_config, shop.devnet, multiproc), tmp_path)
    running.web()
    running.start("watch", "gateway", "watch")
    running.start("worker", "gateway", "worker")
    yield running
    for name in list(running.processes):
        running.stop(name)


def _metrics(stack: Stack) -> dict[str, float]:
    text = requests.get(f"{stack.url}/metrics", timeout=10).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _sum(samples: dict[str, float], pattern: str) -> float:
    return sum(v for k, v in samples.items() if re.fullmatch(pattern, k))


def test_readyz_and_metrics_with_the_watcher_and_worker_running(stack, shop, merchant):
    api = requests.Session()
    api.headers.update(merchant.headers)
    receiver = Receiver()
    try:
        api.post(
            f"{stack.url}/api/v1/webhook-endpoints",
            json={"url": receiver.url("/hook"), "event_types": ["order.paid"]},
        ).raise_for_status()
        order = api.post(
            f"{stack.url}/api/v1/orders",
            json={"amount": "7.5", "chain": "devnet", "reference": "stack"},
        ).json()
        shop.pay(order, 7_500_000)
        shop.devnet.mine(4)

        def paid():
            shop.devnet.mine(1)
            got = api.get(f"{stack.url}/api/v1/orders/{order['id']}").json()
            return got["status"] == "paid"

        wait_until(paid, 60, "the order to be paid")
        wait_until(lambda: receiver.requests, 30, "the order.paid webhook")
        for _ in range(20):  # spread over both gunicorn workers
            assert requests.get(f"{stack.url}/healthz", timeout=5).status_code == 200

        ready = wait_until(
            lambda: (r := requests.get(f"{stack.url}/readyz", timeout=10)).ok and r, 30, "ready"
        )
        body = ready.json()
        assert body["status"] == "ok"
        assert set(body["checks"]) == {"database", "redis", "chain:devnet", "webhooks"}
        assert body["details"]["chain:devnet"]["lag_blocks"] <= 50  # from 127.0.0.1: operator
        assert body["details"]["webhooks"]["due"] == 0

        samples = _metrics(stack)
        assert samples['gateway_orders{state="paid"}'] == 1
        assert samples['gateway_payments_total{chain="devnet"}'] == 1
        assert samples['gateway_payment_amount_usdt_total{chain="devnet"}'] == 7.5
        assert 'gateway_scan_lag_blocks{chain="devnet"}' in samples
        assert samples['gateway_watcher_last_step_timestamp_seconds{chain="devnet"}'] > 0
        assert _sum(samples, r'gateway_node_requests_total\{chain="devnet",.*outcome="ok"\}') > 0
        assert samples['gateway_webhook_attempts_total{outcome="2xx"}'] == 1
        assert samples['gateway_webhook_attempt_seconds_count{outcome="2xx"}'] == 1
        # twenty requests, wherever gunicorn sent them, counted once each
        healthz = (
            r'gateway_http_request_seconds_count\{method="GET",route="/healthz",status="200"\}'
        )
        assert _sum(samples, healthz) == 20
        assert "gateway_rate_limited_total" in samples

        # the worker gone, a due delivery waits: /readyz fails and names the part
        stack.stop("worker")
        api.post(
            f"{stack.url}/api/v1/webhook-endpoints",
            json={"url": receiver.url("/hook"), "event_types": ["order.created"]},
        ).raise_for_status()
        api.post(
            f"{stack.url}/api/v1/orders",
            json={"amount": "1", "chain": "devnet", "reference": "after"},
        ).raise_for_status()
        stack.start("dispatch", "gateway", "worker", "--burst", "--queue", "nobody-serves-this")

        def failing():
            answer = requests.get(f"{stack.url}/readyz", timeout=10)
            return answer.status_code == 503 and answer.json()

        body = wait_until(failing, 30, "/readyz to fail")
        assert body["checks"]["webhooks"] == "failing"
        assert body["checks"]["database"] == "ok"
    finally:
        receiver.close()
    for name, says in (("watch", "gateway watch: watching devnet"), ("worker", "gateway worker:")):
        assert stack.log(name).count(says) == 1, stack.log(name)[-2000:]
