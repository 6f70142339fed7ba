"""`make demo` prints the dashboard's URL and a login that works: sign in with it while
the demo keeps running, and find the order it paid."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from html import unescape

import pytest
import requests

from devtools.devnet import anvil_path
from tests.dashboard.browser import ROOT

LOGIN = re.compile(r"dashboard: (\S+)  login: (\S+)  password: (\S+)")


def test_the_demo_prints_a_dashboard_login_that_works():
    if not anvil_path().exists():
        pytest.skip("anvil not installed: run `npm ci`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--keep"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines, deadline = [], time.monotonic() + 180
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            lines.append(line)
            if "keeps running" in line or not line:
                break
        output = "".join(lines)
        assert "keeps running" in output, output
        url, email, password = LOGIN.findall(output)[-1]
        paid = re.search(r"order (ord_\w+): pay", output).group(1)

        browser = requests.Session()
        page = browser.get(f"{url}login", timeout=10).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        signed = browser.post(
            f"{url}login",
            data={"email": email, "password": password, "csrf_token": token},
            timeout=10,
        )
        assert signed.url == url and "Overview" in signed.text
        order = unescape(browser.get(f"{url}orders/{paid}", timeout=10).text)
        assert "cart-1001" in order and "order.paid" in order
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
