"""Dashboard fixtures: users of the test merchants, and a signed-in test client."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.core.accounts import users
from gateway.core.models import Merchant
from gateway.web import catalogs, db
from tests.checkout.conftest import Buyer
from tests.dashboard.browser import browser_fixture, pages_fixture
from tests.webhooks.conftest import start_worker  # noqa: F401  (real `gateway worker` processes)

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class Person:
    """A dashboard user and the password they sign in with."""

    id: str
    email: str
    role: str
    merchant_id: str
    password: str = PASSWORD


@pytest.fixture
def make_user(app: Flask) -> Callable[..., Person]:
    """Create a user of a merchant: ``make_user(merchant_id, "viewer")``."""

    def make(merchant_id: str, role: str = "owner", email: str | None = None) -> Person:
        email = email or f"{role}-{merchant_id[-6:]}@example.com"
        with app.app_context(), db.transaction() as session:
            merchant = session.get(Merchant, merchant_id)
            user = users.create(session, merchant, email, PASSWORD, role)
            return Person(user.id, user.email, user.role, merchant_id)

    return make


@pytest.fixture
def owner(make_user, merchant) -> Person:
    """The owner of ``merchant``."""
    return make_user(merchant.id, "owner")


class Dashboard:
    """A test client that signs in and posts forms with their CSRF token."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def token(self, path: str = "/dashboard/login") -> str:
        """The CSRF token a page of ``path`` carries."""
        page = self.client.get(path)
        return _TOKEN.search(page.get_data(as_text=True)).group(1)

    def login(self, person: Person, password: str | None = None, **headers):
        """Post the login form; returns the answer."""
        token = self.token()
        return self.client.post(
            "/dashboard/login",
            data={
                "email": person.email,
                "password": password or person.password,
                "csrf_token": token,
            },
            headers=headers,
        )

    def post(self, path: str, data: dict | None = None, page: str = "/dashboard/"):
        """Post a form of the signed-in user, with a valid CSRF token."""
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token(page)})

    def text(self, path: str) -> str:
        """The page at ``path`` as text (200 expected)."""
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return unescape(response.get_data(as_text=True))


@pytest.fixture
def dash(client) -> Dashboard:
    """A dashboard client, not signed in."""
    return Dashboard(client)


@pytest.fixture
def signed_in(app, owner) -> Dashboard:
    """A dashboard client signed in as ``owner``."""
    board = Dashboard(app.test_client())
    assert board.login(owner).status_code == 302
    return board


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """The .mo files, compiled from the committed .po files (as `make` does)."""
    catalogs.compile_all()


@pytest.fixture
def buyer(app, client, merchant) -> Buyer:
    """Orders of ``merchant`` made through the API, paid as the watcher records money."""
    return Buyer(app, client, merchant)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), one per module; skipped without it (failed in CI)."""
    yield from browser_fixture()


@pytest.fixture
def open_page(browser):
    """``open_page(viewport=..., locale=...)``: a page in a fresh browser context."""
    yield from pages_fixture(browser)
