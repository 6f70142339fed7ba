"""Many payouts at once through a real server: together they ask for more than the wallet
holds, and the wallet is never overdrawn."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from gateway.core.wallet.models import Account, LedgerEntry, Payout
from gateway.web import db
from tests.api.back_office import (
    ETH,
    PAYOUTS,
    USDT,
    funded_wallet,
    give_gas,
    payout_balance,
    payout_body,
    with_passphrase,
)

PAYOUT_COUNT = 50
FUNDED = 100 * USDT


@pytest.fixture
def app_config(app_config, monkeypatch):
    """Hot wallets enabled: a passphrase in the environment."""
    return with_passphrase(app_config, monkeypatch)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_payouts_never_overdraw_the_wallet(
    app, client, server, merchant, devnet, evm_snapshot
):
    wallet = funded_wallet(app, client, merchant, devnet, FUNDED)
    give_gas(devnet, wallet["address"], 100 * ETH)
    amounts = [random.Random(i).randint(2, 9) for i in range(PAYOUT_COUNT)]
    assert sum(amounts) * USDT > 2 * FUNDED
    http = requests.Session()
    http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=PAYOUT_COUNT))

    def create(i: int) -> requests.Response:
        return http.post(
            f"{server}{PAYOUTS}",
            headers=merchant.headers,
            json=payout_body(amount=str(amounts[i]), reference=f"race-{i}"),
            timeout=120,
        )

    with ThreadPoolExecutor(PAYOUT_COUNT) as pool:
        answers = list(pool.map(create, range(PAYOUT_COUNT)))

    won = [a.json() for a in answers if a.status_code == 201]
    lost = [(i, a) for i, a in enumerate(answers) if a.status_code != 201]
    assert won and lost
    assert {(a.status_code, a.json()["code"]) for _, a in lost} == {(422, "insufficient_funds")}
    created = sum(int(p["amount_base_units"]) for p in won)
    assert created <= FUNDED
    # what is available only shrinks: each refused payout was more than what is left now
    for i, _ in lost:
        assert amounts[i] * USDT > FUNDED - created
    assert payout_balance(app, merchant.id, Account.PAYOUT) == FUNDED - created
    assert payout_balance(app, merchant.id, Account.RESERVED) == created
    with app.app_context():
        session = db.session()
        stored = session.scalars(sa.select(Payout.amount)).all()
        postings = session.scalars(
            sa.select(LedgerEntry.amount)
            .where(LedgerEntry.account == Account.PAYOUT)
            .order_by(LedgerEntry.seq)
        ).all()
    assert sorted(stored) == sorted(int(p["amount_base_units"]) for p in won)
    running = 0
    for amount in postings:  # in the order they were written: never below zero
        running += amount
        assert running >= 0
    assert running == FUNDED - created
