"""A stream resumes with Last-Event-ID across a web-worker restart: under gunicorn (gthread,
two workers), the client's stream loses its worker to SIGKILL, events are written while no
worker answers, and the client, reconnecting, gets each of them once and in order."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests
from gateway_client import Gateway

from tests.webhooks.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def workers(master: subprocess.Popen) -> set[int]:
    """The pids of gunicorn's worker processes."""
    found = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True)
    return {int(pid) for pid in found.stdout.split()}


def test_the_stream_resumes_after_its_worker_is_killed(app_config, merchant, emit):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE__URL=app_config["database"]["url"],
        GATEWAY_REDIS__URL=app_config["redis"]["url"],
        GATEWAY_EVENTS__HEARTBEAT_SECONDS="0.5",
    )
    master = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "2",
            "--threads", "4", "--graceful-timeout", "2", "--bind", f"127.0.0.1:{port}",
            "gateway.web.app:create_app()",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url) and len(workers(master)) == 2, 30, "gunicorn")
        client = Gateway(url, merchant.key, backoff=0.2, max_retries=20)
        # resuming after a known event: what follows it comes, however soon it is written
        start = emit(merchant.id, data={"id": "ord_0"})
        stream = client.events.stream(last_event_id=start)
        got: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [got.put(e["id"]) for e in stream], daemon=True).start()
        first = emit(merchant.id, data={"id": "ord_1"})
        while got.get(timeout=10) != first:
            pass
        before = workers(master)
        for pid in before:
            os.kill(pid, signal.SIGKILL)  # the stream's worker among them
        written = [emit(merchant.id, data={"id": f"ord_{n}"}) for n in (2, 3)]
        wait_until(lambda: len(workers(master) - before) == 2, 30, "new workers")
        written.append(emit(merchant.id, data={"id": "ord_4"}))
        assert [got.get(timeout=20) for _ in written] == written
        assert stream.last_event_id == written[-1]
        stream.close()
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(30)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
