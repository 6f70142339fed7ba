"""Fixtures for watcher tests: a shop with orders on the anvil devnet and a step driver."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway import db
from gateway.chains import drivers
from gateway.models import Event, Order, Payment
from gateway.watcher import Watcher


class Shop:
    """A merchant's view of the test: create orders, pay them, watch, read back."""

    def __init__(self, app, client, merchant, devnet):
        self.app, self.client, self.merchant, self.devnet = app, client, merchant, devnet

    def order(self, amount: str = "10", **fields) -> dict:
        body = {"amount": amount, "chain": "devnet", "reference": "t", **fields}
        response = self.client.post("/api/v1/orders", json=body, headers=self.merchant.headers)
        assert response.status_code == 201, response.json
        return response.json

    def get(self, order_id: str) -> dict:
        return self.client.get(f"/api/v1/orders/{order_id}", headers=self.merchant.headers).json

    def pay(self, order: dict, units: int, token: str | None = None, sender: int = 0) -> str:
        return self.devnet.transfer(token or self.devnet.usdt, sender, order["address"], units)

    def watcher(self, owner: str = "test", driver=None) -> Watcher:
        with self.app.app_context():
            driver = driver or drivers()["devnet"]
        return Watcher(
            "devnet",
            driver,
            self.app.extensions["db.sessionmaker"],
            grace=timedelta(hours=1),
            owner=owner,
        )

    def sync(self, watcher: Watcher | None = None) -> None:
        """Step until the watcher has caught up with the head."""
        watcher = watcher or self.watcher()
        deadline = time.monotonic() + 30
        while not watcher.step().caught_up:
            assert time.monotonic() < deadline, "watcher did not catch up"

    def events(self, order_id: str | None = None) -> list[str]:
        with self.app.app_context():
            rows = db.session().scalars(sa.select(Event).order_by(Event.seq)).all()
        return [
            e.type
            for e in rows
            if order_id is None or order_id in (e.data.get("id"), e.data.get("order_id"))
        ]

    def payments(self) -> list[Payment]:
        with self.app.app_context():
            return db.session().scalars(sa.select(Payment).order_by(Payment.seq)).all()

    def expire_now(self, order_id: str) -> None:
        with self.app.app_context(), db.transaction() as session:
            order = session.scalar(sa.select(Order).where(Order.id == order_id))
            order.expires_at -= timedelta(days=1)


@pytest.fixture
def shop(app, client, merchant, devnet, evm_snapshot) -> Shop:
    """A merchant on a devnet that is rolled back after the test; account 0 holds USDT."""
    devnet.mint(devnet.usdt, devnet.accounts[0].address, 10**12)
    return Shop(app, client, merchant, devnet)


@pytest.fixture
def wait_for() -> Callable:
    """Poll ``condition`` until it is true, failing after ``timeout`` seconds."""

    def wait(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(interval)

    return wait
