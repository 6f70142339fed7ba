"""The ledger from real histories: payments and deposits on the devnet, reorgs, keystores."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from gateway.core.audit import Actor
from gateway.core.models import Payment
from gateway.core.wallet import keys, ledger, wallets
from gateway.core.wallet.keys import KeyRing, KeysUnavailable, WrongPassphrase
from gateway.core.wallet.ledger import Unbalanced
from gateway.core.wallet.models import Account, Asset, LedgerEntry
from gateway.web import db
from gateway.web.chains import drivers

USDT = 10**6
PASS = "correct horse battery staple"
RING = {"passphrase_env": "TEST_PASS", "passphrase_file": "", "kdf_iterations": 2**4}


def balance(shop, account: Account, chain: str = "devnet") -> int:
    with shop.app.app_context():
        return ledger.balance(db.session(), shop.merchant.id, chain, account)


def external_wallet(shop, address: str):
    with shop.app.app_context(), db.transaction() as session:
        wallet = wallets.register_external(
            session, shop.merchant.id, drivers()["devnet"], Actor.cli(), address
        )
        return wallet.id, wallet.address


def test_confirmed_payments_are_received_and_a_reorg_takes_them_back(shop):
    order = shop.order("10")
    shop.pay(order, 10 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    assert balance(shop, Account.RECEIVED) == 10 * USDT
    assert balance(shop, Account.WORLD) == -10 * USDT

    # an unconfirmed payment is pending, never in the ledger
    before = shop.devnet.snapshot()
    shop.pay(shop.order("5"), 5 * USDT)
    shop.sync()
    assert balance(shop, Account.RECEIVED) == 10 * USDT
    shop.devnet.revert(before)
    shop.devnet.mine(3)
    shop.sync()
    assert balance(shop, Account.RECEIVED) == 10 * USDT


def test_deposits_to_the_payout_wallet_fund_it_once_each(shop):
    wallet_id, address = external_wallet(shop, shop.devnet.accounts[7].address)
    shop.devnet.transfer(shop.devnet.usdt, 0, address, 25 * USDT)
    shop.devnet.transfer(shop.devnet.usdt, 0, address, 0)  # poisoning: nothing
    shop.sync()
    assert balance(shop, Account.PAYOUT) == 0  # seen, not yet confirmed
    shop.devnet.mine(3)
    shop.sync()
    shop.sync()
    assert balance(shop, Account.PAYOUT) == 25 * USDT
    with shop.app.app_context():
        deposits = db.session().scalars(sa.select(Payment).where(Payment.wallet_id == wallet_id))
        assert [(p.order_id, p.amount, p.status) for p in deposits] == [
            (None, 25 * USDT, "confirmed")
        ]
    assert shop.events()[-1] == "payout_wallet.deposit"


def test_every_movement_balances_and_entries_are_never_changed(shop):
    _, address = external_wallet(shop, shop.devnet.accounts[7].address)
    shop.devnet.transfer(shop.devnet.usdt, 0, address, 3 * USDT)
    shop.pay(shop.order("2"), 2 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    with shop.app.app_context():
        rows = (
            db.session()
            .execute(sa.select(LedgerEntry.movement, LedgerEntry.asset, LedgerEntry.amount))
            .all()
        )
        with pytest.raises(Unbalanced):
            ledger.post(
                db.session(),
                shop.merchant.id,
                "devnet",
                "deposit",
                [(Account.PAYOUT, 5), (Account.WORLD, -4)],
            )
    sums: dict[tuple[str, str], int] = {}
    for movement, asset, amount in rows:
        sums[movement, asset] = sums.get((movement, asset), 0) + amount
    assert len(sums) == 2 and set(sums.values()) == {0}
    assert {a for _, a, _ in rows} == {Asset.TOKEN}


def test_keystores_open_only_with_their_passphrase(tmp_path):
    ring = KeyRing(RING, environ={"TEST_PASS": PASS})
    key = keys.new_key()
    sealed = ring.seal(key)
    assert json.loads(sealed)["crypto"]["kdf"] == "scrypt"
    assert PASS not in sealed and key.hex() not in sealed
    assert ring.open(sealed) == key
    with pytest.raises(WrongPassphrase) as wrong:
        KeyRing(RING, environ={"TEST_PASS": "not it"}).open(sealed)
    assert PASS not in str(wrong.value) and key.hex() not in str(wrong.value)
    # from a file named in the configuration, never from the configuration itself
    secret = tmp_path / "passphrase"
    secret.write_text(PASS + "\n")
    from_file = KeyRing({**RING, "passphrase_env": "", "passphrase_file": str(secret)}, {})
    assert from_file.open(sealed) == key
    disabled = KeyRing(RING, environ={})
    assert not disabled.enabled and PASS not in repr(ring)
    with pytest.raises(KeysUnavailable):
        disabled.open(sealed)
