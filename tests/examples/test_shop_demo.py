"""`make shop`: one command runs the example shop beside the demo gateway, and an order
placed in the shop is paid on the devnet and thanked for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from devtools.devnet import anvil_path
from tests.examples.receivers import ROOT
from tests.webhooks.support import free_port, wait_until


def test_one_command_runs_the_shop_beside_the_demo_and_an_order_gets_paid():
    if not anvil_path().exists():
        pytest.skip("anvil not installed: run `npm ci`")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    shop = subprocess.Popen(
        [sys.executable, "-m", "examples.shop", "--demo", "--port", str(port), "--pay-after", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline:
            line = shop.stdout.readline()
            lines.append(line)
            if "keep running" in line or not line:
                break
        assert "keep running" in "".join(lines), "".join(lines)
        # the gateway goes on logging: keep its pipe from filling up
        threading.Thread(target=shop.stdout.read, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        buyer = requests.Session()
        buyer.post(f"{url}/cart", data={"product": "stickers"}, timeout=10)
        paying = buyer.post(f"{url}/checkout", allow_redirects=False, timeout=10)
        assert paying.status_code == 303 and "/pay/ord_" in paying.headers["Location"]
        wait_until(
            lambda: "Thank you" in buyer.get(f"{url}/return", timeout=10).text,
            90, "the shop to be paid",
        )  # fmt: skip
    finally:
        os.killpg(shop.pid, signal.SIGINT)
        try:
            shop.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(shop.pid, signal.SIGKILL)
            shop.wait(10)
