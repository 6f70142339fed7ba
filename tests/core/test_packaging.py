"""What `pip install .` puts on a machine: the service, never the dev tooling."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_service_and_no_dev_tooling(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"gateway", "plugins", "webhooks", "usdt_gateway-0.1.0.dist-info"}
    # scripts ship only as the pages' own assets
    assert not [
        n for n in names if n.endswith((".sol", ".js")) and not n.startswith("gateway/web/")
    ]
    assert "gateway/migrations/env.py" in names
    assert any(n.startswith("gateway/migrations/versions/0001") for n in names)
    assert "gateway/web/checkout/templates/checkout/pay.html" in names
    assert "gateway/web/dashboard/static/dashboard.js" in names
    assert "gateway/web/dashboard/translations/zh_Hans_CN/LC_MESSAGES/messages.po" in names
    entry_points = zipfile.ZipFile(wheel).read("usdt_gateway-0.1.0.dist-info/entry_points.txt")
    assert b"[gateway.chains]" in entry_points and b"gateway = gateway.cli:main" in entry_points
