"""The architecture holds: drivers and webhooks never load Flask; the core never imports a
concrete driver (the demo is the one tool that starts a devnet, and says so)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_drivers_and_webhooks_do_not_load_flask():
    modules = [
        "plugins.evm.driver",
        "plugins.tron.driver",
        "webhooks.jobs",
        "webhooks.outbox",
        "webhooks.endpoints",
        "gateway.watcher",
    ]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint('flask' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_the_core_never_imports_a_concrete_driver():
    offenders = []
    for path in (ROOT / "gateway").rglob("*.py"):
        if path.name == "demo.py":
            continue  # starts the devnet on purpose; it is not part of the service
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [
                f"{path.name}: {n}" for n in names if n.startswith(("plugins.evm", "plugins.tron"))
            ]
    assert offenders == []
