"""Example tests: a gateway with Redis and a real worker (the webhook tests' fixtures)."""

from __future__ import annotations

from tests.webhooks.conftest import (  # noqa: F401  (fixtures)
    app_config,
    chain_settings,
    emit,
    merchant,
    start_worker,
)
