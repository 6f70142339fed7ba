"""Fixtures for checkout tests: orders made through the API, money recorded by the services."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.core import orders, payments
from gateway.core.models import Order, utcnow
from gateway.web import db
from plugins.base import Transfer

_tx = itertools.count(1)


class Buyer:
    """Creates orders as the shop does and moves them as the watcher would."""

    def __init__(self, app, client, merchant):
        self.app, self.client, self.merchant = app, client, merchant

    def order(self, amount: str = "12.5", chain: str = "devnet", **fields) -> dict:
        body = {"amount": amount, "chain": chain, "reference": "cart-1", **fields}
        response = self.client.post("/api/v1/orders", json=body, headers=self.merchant.headers)
        assert response.status_code == 201, response.json
        return response.json

    def status(self, order_id: str) -> dict:
        response = self.client.get(f"/pay/{order_id}/status.json")
        assert response.status_code == 200
        return response.json

    def receive(self, order_id: str, units: int, confirmed: bool = False) -> None:
        """Record a transfer of ``units`` to the order's address, as the watcher does."""
        with self.app.app_context(), db.transaction() as session:
            order = self._load(session, order_id)
            number = next(_tx)
            transfer = Transfer(
                tx_hash=f"0x{number:064x}",
                log_index=0,
                block_number=number,
                block_hash=f"0x{number:064x}",
                from_address="0x" + "ab" * 20,
                to_address=order.address,
                amount=units,
                timestamp=int(utcnow().timestamp()),
            )
            payment = payments.record(session, order.chain, order, transfer, occurrence=0)
            if confirmed:
                payment.status, payment.confirmed_at = "confirmed", utcnow()
                orders.recompute(session, order)

    def confirm_all(self, order_id: str) -> None:
        with self.app.app_context(), db.transaction() as session:
            order = self._load(session, order_id)
            for payment in order.payments:
                payment.status, payment.confirmed_at = "confirmed", utcnow()
            orders.recompute(session, order)

    def age(self, order_id: str, by: timedelta) -> None:
        """Move the order's expiry into the past by ``by``."""
        with self.app.app_context(), db.transaction() as session:
            order = self._load(session, order_id)
            order.expires_at = utcnow() - by

    def set_status(self, order_id: str, status: str) -> None:
        with self.app.app_context(), db.transaction() as session:
            self._load(session, order_id).status = status

    @staticmethod
    def _load(session, order_id: str) -> Order:
        return session.scalar(sa.select(Order).where(Order.id == order_id).with_for_update())


@pytest.fixture
def buyer(app, client, merchant) -> Buyer:
    """Orders of ``merchant`` and the means to pay them."""
    return Buyer(app, client, merchant)
