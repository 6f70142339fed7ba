"""Run the example receivers as their users would, and a relay that keeps what it passed on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.webhooks.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
RECEIVERS = ROOT / "examples" / "receivers"


def need(tool: str, install: str) -> str:
    """The path of ``tool``; skipped loudly without it (CI installs it: a failure there)."""
    found = shutil.which(tool)
    if found:
        return found
    message = f"{tool} is not installed ({install}): this receiver is NOT tested here"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def command(language: str, port: int) -> list[str]:
    """How a user starts the receiver in ``language`` on ``port``."""
    if language == "python":
        return [sys.executable, str(RECEIVERS / "python" / "app.py")]
    if language == "node":
        node = need("node", "apt-get install nodejs npm")
        if not (RECEIVERS / "node" / "node_modules" / "express").is_dir():
            need("npm", "apt-get install npm")
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=RECEIVERS / "node",
                check=True,
            )
        return [node, str(RECEIVERS / "node" / "server.js")]
    php = need("php", "apt-get install php-cli")
    return [php, "-S", f"127.0.0.1:{port}", str(RECEIVERS / "php" / "index.php")]


@dataclass
class RunningReceiver:
    """A receiver process on 127.0.0.1."""

    process: subprocess.Popen
    url: str

    def stop(self) -> str:
        """Stop it; what it printed."""
        self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate(timeout=10)
        return output or ""


def start(language: str, secret: str) -> RunningReceiver:
    """Start the receiver in ``language`` with ``secret``; waits until it answers."""
    port = free_port()
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)}
    process = subprocess.Popen(
        command(language, port),
        env=env,
        cwd=RECEIVERS / language,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/webhooks"

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the {language} receiver exited: {process.communicate()[0]}")
        try:
            return requests.post(url, data=b"{}", timeout=1).status_code == 400
        except requests.ConnectionError:
            return False

    wait_until(answers, 30, f"the {language} receiver to listen")
    return RunningReceiver(process, url)


@dataclass
class Relayed:
    """One request passed on, and the receiver's answer."""

    body: bytes
    headers: dict[str, str]
    status: int


@dataclass
class Relay:
    """Passes each POST on to ``target`` and keeps it: the test can send it again, changed."""

    target: str
    passed: list[Relayed] = field(default_factory=list)

    def __post_init__(self) -> None:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "host"}
                answer = requests.post(relay.target, data=body, headers=headers, timeout=10)
                relay.passed.append(Relayed(body, headers, answer.status_code))
                self.send_response(answer.status_code)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/webhooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
