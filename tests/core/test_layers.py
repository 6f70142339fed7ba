"""The architecture holds, read from the imports themselves.

- ``gateway.core`` imports neither Flask nor ``gateway.web``/``gateway.cli`` nor webhooks;
- ``plugins`` (the drivers) import nothing from ``gateway`` or ``webhooks``, and no Flask;
- ``webhooks`` imports only ``gateway.core`` from the gateway;
- ``gateway.web`` never imports ``gateway.cli``; nothing but the demo reaches ``devtools``;
- no room imports a concrete driver; importing ``gateway`` or the core loads no Flask.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# room -> import prefixes it must not use
FORBIDDEN = {
    "gateway/core": (
        "flask",
        "flask_smorest",
        "gateway.web",
        "gateway.cli",
        "webhooks",
        "devtools",
    ),
    "gateway/web": ("gateway.cli", "devtools"),
    "plugins": ("flask", "gateway", "webhooks", "devtools"),
    "webhooks": ("flask", "gateway.web", "gateway.cli", "devtools"),
    "gateway/migrations": ("flask", "gateway.web", "gateway.cli"),
}
CONCRETE_DRIVERS = ("plugins.evm", "plugins.tron")


def imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at the top or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def uses(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_rooms_import_only_what_their_layer_allows(room):
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / room).rglob("*.py")
        for name in imports(path)
        if any(uses(name, prefix) for prefix in FORBIDDEN[room])
    ]
    assert offenders == []


def test_no_room_imports_a_concrete_driver():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for room in ("gateway", "webhooks")
        for path in (ROOT / room).rglob("*.py")
        for name in imports(path)
        if any(uses(name, prefix) for prefix in CONCRETE_DRIVERS)
    ]
    assert offenders == []


def test_only_the_demo_reaches_the_dev_tooling():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "gateway").rglob("*.py")
        if path.name != "demo.py"  # starts a devnet on purpose, from a source checkout
        for name in imports(path)
        if uses(name, "devtools")
    ]
    assert offenders == []


def test_the_package_the_core_drivers_and_webhooks_load_no_flask():
    modules = [
        "gateway",
        "gateway.core.watcher",
        "gateway.core.orders",
        "gateway.core.schemas",
        "plugins.evm.driver",
        "plugins.tron.driver",
        "webhooks.jobs",
        "webhooks.outbox",
        "webhooks.endpoints",
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
