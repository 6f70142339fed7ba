"""The scale-out tests: the whole deployment as separate processes, and its deploy files.

``pytest -m scale`` (or ``pytest tests/scale``) runs them alone.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "scale: the scale-out deployment (gunicorn x3, two watchers, three webhook workers on"
        " a private PostgreSQL and Redis); `pytest -m scale` runs it alone",
    )
