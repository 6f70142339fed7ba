"""Many shops' checkouts at once: every order gets its own index and address, none lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from bip_utils import Bip44Coins

from gateway.core.models import HdAccount, Order
from gateway.web import db
from plugins.hd import child_address
from tests.support.keys import MERCHANT_EVM_XPUB

ORDERS = 240
THREADS = 40


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_concurrent_creations_never_share_or_lose_an_index(app, server, merchant):
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))

    def create(i: int) -> requests.Response:
        return session.post(
            f"{server}/api/v1/orders",
            headers=merchant.headers,
            timeout=60,
            json={"amount": "1.5", "chain": "devnet", "reference": f"c{i}"},
        )

    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(create, range(ORDERS)))

    assert [r.status_code for r in responses] == [201] * ORDERS
    with app.app_context():
        rows = db.session().execute(sa.select(Order.hd_index, Order.address)).all()
        next_index = db.session().scalar(
            sa.select(HdAccount.next_index).where(HdAccount.family == "evm")
        )
    indexes = sorted(index for index, _ in rows)
    assert indexes == list(range(ORDERS))  # no duplicate, no gap
    assert next_index == ORDERS
    expected = {child_address(MERCHANT_EVM_XPUB, i, Bip44Coins.ETHEREUM) for i in indexes}
    assert {address for _, address in rows} == expected
    assert {r.json()["address"] for r in responses} == expected
