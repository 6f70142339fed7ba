"""A merchant's back office on a local chain: payout wallets, deposits, payouts, the sender."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tronpy.keys import PrivateKey

from gateway.core.audit import Actor
from gateway.core.wallet import ledger, payouts, wallets
from gateway.core.wallet.keys import KeyRing
from gateway.core.wallet.models import Account, Payout, PayoutWallet
from gateway.core.wallet.sender import Sender
from gateway.core.watcher import Watcher
from gateway.web import db
from gateway.web.chains import drivers
from tests.fixtures.tron import PAYER

PASSPHRASE = "a passphrase kept out of the configuration"
CREATOR, APPROVER = Actor("key_creator", "127.0.0.1"), Actor("key_approver", "127.0.0.1")


@pytest.fixture
def app_config(app_config: dict[str, Any], monkeypatch) -> dict[str, Any]:
    """The test app, with a hot-wallet passphrase in the environment and a cheap scrypt."""
    monkeypatch.setenv("TEST_WALLET_PASSPHRASE", PASSPHRASE)
    return {
        **app_config,
        "wallets": {"passphrase_env": "TEST_WALLET_PASSPHRASE", "kdf_iterations": 2**4},
        "payouts": {"stuck_after_seconds": 1},
    }


@dataclass
class Office:
    """One merchant's back office on one chain, stepped by hand."""

    app: Any
    merchant: Any
    chain: str
    mine: Callable[[int], None]

    @property
    def driver(self):
        with self.app.app_context():
            return drivers()[self.chain]

    @property
    def ring(self) -> KeyRing:
        return KeyRing(self.app.config["GATEWAY"]["wallets"])

    def hot_wallet(self) -> PayoutWallet:
        with self.app.app_context(), db.transaction() as session:
            return wallets.create_hot(session, self.merchant.id, self.driver, self.ring, CREATOR)

    def external_wallet(self, address: str) -> PayoutWallet:
        with self.app.app_context(), db.transaction() as session:
            return wallets.register_external(
                session, self.merchant.id, self.driver, CREATOR, address
            )

    def watcher(self) -> Watcher:
        sessions = self.app.extensions["db.sessionmaker"]
        return Watcher(self.chain, self.driver, sessions, timedelta(hours=1), owner="test")

    def sender(self) -> Sender:
        settings = self.app.config["GATEWAY"]
        sessions = self.app.extensions["db.sessionmaker"]
        return Sender(self.chain, self.driver, sessions, self.ring, settings["payouts"])

    def sync(self, blocks: int = 0) -> None:
        """Mine ``blocks``, then let the watcher catch up and the sender take one pass."""
        if blocks:
            self.mine(blocks)
        watcher, sender = self.watcher(), self.sender()
        while True:
            result = watcher.step()
            if result.caught_up:
                sender.run_once(result.tip)
                return

    def balance(self, account: Account) -> int:
        with self.app.app_context():
            return ledger.balance(db.session(), self.merchant.id, self.chain, account)

    def pay_out(self, to: str, amount: int, order_id: str | None = None) -> str:
        driver = self.driver
        with self.app.app_context():
            wallet = wallets.of(db.session(), self.merchant.id, self.chain)
            fee = driver.build_transfer(wallet.address, to, amount).max_fee
            gas = driver.native_balance(wallet.address)
        with self.app.app_context(), db.transaction() as session:
            rules = payouts.policy(session, self.merchant.id, self.app.config["GATEWAY"]["payouts"])
            new = payouts.NewPayout(self.chain, to, amount, "test", order_id)
            made = payouts.create(session, self.merchant.id, driver, new, CREATOR, rules, fee, gas)
            return made.id

    def approve(self, payout_id: str, actor: Actor = APPROVER) -> None:
        with self.app.app_context(), db.transaction() as session:
            payouts.approve(session, self.payout(payout_id, session), actor)

    def payout(self, payout_id: str, session=None) -> Payout:
        if session is None:
            with self.app.app_context():
                return db.session().scalar(sa.select(Payout).where(Payout.id == payout_id))
        return session.scalar(sa.select(Payout).where(Payout.id == payout_id).with_for_update())

    def until(self, payout_id: str, status: str, blocks: int = 1, tries: int = 30) -> Payout:
        """Mine and step until the payout reaches ``status``."""
        for _ in range(tries):
            self.sync(blocks)
            payout = self.payout(payout_id)
            if payout.status == status:
                return payout
        raise AssertionError(f"payout stayed {payout.status} ({payout.failure})")


@pytest.fixture
def tron_office(app, merchant, tron_node) -> Office:
    """The merchant's back office on the local TRON node."""
    return Office(app, merchant, "tron", tron_node.produce_block)


@pytest.fixture
def evm_office(app, merchant, devnet, evm_snapshot) -> Office:
    """The merchant's back office on the anvil devnet."""
    devnet.mint(devnet.usdt, devnet.accounts[0].address, 10**12)
    return Office(app, merchant, "devnet", devnet.mine)


def random_tron_address() -> str:
    """Somebody's TRON address: a payout's destination."""
    return PrivateKey(secrets.token_bytes(32)).public_key.to_base58check_address()


def sign_tron_offline(unsigned: dict[str, Any], key: bytes) -> str:
    """What a merchant's offline TRON signer does: sign the txID, post the object back."""
    signature = PrivateKey(key).sign_msg_hash(bytes.fromhex(unsigned["txID"]))
    return json.dumps({**unsigned, "signature": [signature.hex()]})


__all__ = ["PAYER"]
