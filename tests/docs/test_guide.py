"""docs/accept-usdt.md runs as written: every shell and Python block, in order, in one
shell, from starting a devnet to the receiver's verified order.paid webhook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from devtools.devnet import anvil_path
from tests.webhooks.support import free_port

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "accept-usdt.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Each fenced block: its language, its ``key=value`` attributes and its code."""
    found = []
    for language, info, code in FENCE.findall(text):
        attributes = dict(part.split("=", 1) for part in info.split() if "=" in part)
        found.append((language, attributes, code))
    return found


def script(text: str, workdir: Path) -> str:
    """The guide as one bash script; file blocks are written to ``workdir``."""
    lines = [
        "set -euo pipefail",
        # whatever happens, the background processes of the guide stop with it
        "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT",
    ]
    for number, (language, attributes, code) in enumerate(blocks(text)):
        if language == "sh":
            lines.append(code)
        elif language == "python" and "file" in attributes:
            (workdir / attributes["file"]).write_text(code)
        elif language == "python":
            (workdir / f"block{number}.py").write_text(code)
            lines.append(f"python block{number}.py")
        else:
            raise AssertionError(f"a {language} block the test cannot run: every block must run")
    return "\n".join(lines) + "\n"


def test_every_block_is_a_shell_or_python_block_that_runs():
    found = blocks(GUIDE.read_text())
    assert {language for language, _, _ in found} == {"sh", "python"}
    assert sum("curl" in code for _, _, code in found) >= 5


def test_the_guide_runs_from_a_devnet_to_a_verified_webhook(tmp_path):
    if not anvil_path().exists():
        pytest.skip("anvil not installed: run `npm ci`")
    bash = shutil.which("bash")
    body = script(GUIDE.read_text(), tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        PYTHONPATH=str(ROOT),  # the guide runs in a checkout: `python -m devtools`
        PORT=str(free_port()),
        DEVNET_PORT=str(free_port()),
        SHOP_PORT=str(free_port()),
        # a queue of its own on the shared test Redis
        GATEWAY_WEBHOOKS__QUEUE=f"guide-{uuid.uuid4().hex[:8]}",
    )
    run = subprocess.run(
        [bash, "-c", body], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    logs = "".join(
        f"\n--- {name}\n{(tmp_path / name).read_text()[-3000:]}"
        for name in ("api.log", "watch.log", "worker.log", "receiver.log")
        if (tmp_path / name).exists()
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}{logs}"
    assert "order.paid: cart-1001" in (tmp_path / "receiver.log").read_text()
    assert re.search(r"ord_\w+ 0x[0-9a-fA-F]{40} http", run.stdout)  # the client's order
