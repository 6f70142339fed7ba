"""Shared fixtures: an app per test on SQLite and on PostgreSQL, merchants and keys.

The chain fixtures live in tests/fixtures/ and load as plugins.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from bip_utils import Bip44Coins
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.serving import make_server

from gateway.cli import main
from gateway.core import addresses
from gateway.core.models import Merchant
from gateway.web import auth, db
from gateway.web.app import create_app
from gateway.web.chains import drivers
from tests.support.databases import (
    PostgresSchema,
    postgres_reachable,
    sqlite_copy,
    sqlite_template,
)
from tests.support.keys import account_xpub

pytest_plugins = ["tests.fixtures.devnet", "tests.fixtures.tron", "tests.fixtures.shop"]

ALL_SCOPES = ",".join(auth.SCOPES)


@pytest.fixture(autouse=True)
def _no_flask_cli_marker() -> Iterator[None]:
    """Flask's CLI sets FLASK_RUN_FROM_CLI in os.environ and never unsets it; a test that ran
    `gateway ...` in-process would otherwise make every later child's `app.run()` a no-op."""
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    yield
    os.environ.pop("FLASK_RUN_FROM_CLI", None)


@pytest.fixture(scope="session")
def sqlite_template_path(tmp_path_factory: pytest.TempPathFactory):
    """A migrated SQLite database that each test copies."""
    return sqlite_template(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    """A private, migrated schema in the test PostgreSQL database."""
    if not postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL must be reachable in CI (127.0.0.1:5432, database test)")
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = PostgresSchema()
    yield schema
    schema.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path, sqlite_template_path) -> str:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template_path, tmp_path)
    schema: PostgresSchema = request.getfixturevalue("postgres_schema")
    schema.empty()
    return schema.url


def both_chains(devnet, tron_node) -> dict[str, dict[str, Any]]:
    """Chain settings for the anvil devnet (``devnet``) and the local TRON node (``tron``)."""
    return {
        "tron": {
            "driver": "tron",
            "full_node": tron_node.url,
            "token": tron_node.chain.token,
            "confirmations": 2,
            "timeout": 2,
        },
        "devnet": {
            "driver": "evm",
            "rpc_url": devnet.rpc_url,
            "chain_id": 31337,
            "token": devnet.usdt,
            "confirmations": 3,
            "max_block_range": 100,
        },
    }


@pytest.fixture
def chain_settings(devnet, tron_node) -> dict[str, dict[str, Any]]:
    """The chains every app in the tests knows: the anvil devnet and a local TRON node."""
    return both_chains(devnet, tron_node)


@pytest.fixture
def app_config(database_url: str, chain_settings) -> dict[str, Any]:
    """Settings of the test app; tests may change them before asking for ``app``."""
    return {
        "server": {"secret_key": "test-secret", "base_url": "http://127.0.0.1:5000"},
        "database": {"url": database_url},
        "chains": chain_settings,
        "webhooks": {"allow_private_targets": True},
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """A fresh app on an empty database."""
    app = create_app(app_config)
    app.config["TESTING"] = True
    yield app
    app.extensions["db.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """``app`` on a real threaded HTTP server; yields its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A runner of the ``gateway`` command bound to ``app``."""
    return GatewayRunner(app)


class GatewayRunner(FlaskCliRunner):
    """Invokes the ``gateway`` command (not the app's bare ``flask`` one) by default."""

    def invoke(self, cli: Any = None, args: Any = None, **kwargs: Any) -> Any:
        return super().invoke(cli or main, args, **kwargs)


@dataclass
class TestMerchant:
    """A merchant with an API key, ready to call the API."""

    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of this merchant's key."""
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def make_merchant(app: Flask) -> Callable[..., TestMerchant]:
    """Create merchants: ``make_merchant(name, scopes=..., xpubs={"devnet": xpub})``."""

    made = itertools.count(1)

    def make(
        name: str = "shop",
        scopes: str = ALL_SCOPES,
        xpubs: dict[str, str] | None = None,
        allowed_ips: tuple[str, ...] = (),
    ) -> TestMerchant:
        # each merchant gets its own account xpub: one xpub cannot serve two merchants
        number = next(made)
        if xpubs is None:
            xpubs = {
                "devnet": account_xpub(Bip44Coins.ETHEREUM, account=number),
                "tron": account_xpub(Bip44Coins.TRON, account=number),
            }
        with app.app_context(), db.transaction() as session:
            merchant = Merchant(name=name)
            session.add(merchant)
            session.flush()
            for chain, xpub in xpubs.items():
                addresses.register_xpub(session, merchant.id, drivers()[chain], xpub)
            _, key = auth.create_api_key(
                session, merchant, scopes.split(","), allowed_ips=allowed_ips
            )
            return TestMerchant(merchant.id, key)

    return make


@pytest.fixture
def merchant(make_merchant) -> TestMerchant:
    """A merchant with every scope and the EVM xpub MERCHANT_EVM_XPUB (account 1)."""
    return make_merchant("shop")


@pytest.fixture
def other_merchant(make_merchant) -> TestMerchant:
    """A second merchant, to prove isolation."""
    return make_merchant("other")
