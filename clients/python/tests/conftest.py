"""The client's tests run against a live gateway: the gateway suite's app on a real server.

The gateway's fixtures (an app per test on SQLite and PostgreSQL, merchants with keys, the
anvil devnet) come from its own conftest; only the devnet chain is configured here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

# the gateway's test package lives at the repository's root, above this package
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.conftest import (  # noqa: F401  (fixtures)
    app,
    app_config,
    client,
    database_url,
    make_merchant,
    postgres_schema,
    server,
    sqlite_template_path,
)

pytest_plugins = ["tests.fixtures.devnet"]

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def chain_settings(devnet) -> dict[str, dict[str, Any]]:
    """The anvil devnet only: the client needs no TRON node."""
    return {
        "devnet": {
            "driver": "evm",
            "rpc_url": devnet.rpc_url,
            "chain_id": 31337,
            "token": devnet.usdt,
            "confirmations": 1,
        }
    }


@pytest.fixture
def merchant(make_merchant):  # noqa: F811
    """A merchant with every scope and a devnet xpub."""
    from bip_utils import Bip44Coins

    from tests.support.keys import account_xpub

    return make_merchant("shop", xpubs={"devnet": account_xpub(Bip44Coins.ETHEREUM, account=1)})


@pytest.fixture
def gateway(server, merchant):  # noqa: F811
    """A client of the live gateway with the merchant's key."""
    from gateway_client import Gateway

    with Gateway(server, merchant.key, backoff=0.05) as gateway_client:
        yield gateway_client
