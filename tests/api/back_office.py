"""Helpers of the back office API tests: a hot-wallet passphrase, second keys, funding."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from eth_account import Account as EthAccount

from gateway.core.models import Merchant
from gateway.core.wallet import ledger
from gateway.core.wallet.models import Account, Payout, PayoutWallet
from gateway.web import auth, db

PASSPHRASE = "the back office tests' wallet passphrase"
PASSPHRASE_ENV = "TEST_BACK_OFFICE_PASSPHRASE"
USDT = 10**6
ETH = 10**18

WALLETS = "/api/v1/payout-wallets"
PAYOUTS = "/api/v1/payouts"
BALANCES = "/api/v1/balances"
TRANSACTIONS = "/api/v1/transactions"
ADDRESS_BOOK = "/api/v1/address-book"
POLICY = "/api/v1/payout-policy"
AUDIT = "/api/v1/audit-log"


def with_passphrase(app_config: dict[str, Any], monkeypatch) -> dict[str, Any]:
    """The test app's settings with a hot-wallet passphrase in the environment and a cheap
    scrypt (each test module's ``app_config`` fixture uses it)."""
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    return {**app_config, "wallets": {"passphrase_env": PASSPHRASE_ENV, "kdf_iterations": 2**4}}


@dataclass
class Key:
    """Another API key of a merchant."""

    id: str
    headers: dict[str, str]


def another_key(app, merchant_id: str, scopes: str = "payouts:approve,payouts:read") -> Key:
    """A second credential of the same merchant (an approver, a reader, ...)."""
    with app.app_context(), db.transaction() as session:
        merchant = session.get(Merchant, merchant_id)
        key, plaintext = auth.create_api_key(session, merchant, scopes.split(","))
        return Key(key.id, {"Authorization": f"Bearer {plaintext}"})


def key_id(app, headers: dict[str, str]) -> str:
    """The id of the API key in ``headers``."""
    with app.app_context():
        row = auth.find_key(db.session(), headers["Authorization"].split(" ", 1)[1])
        return row.id


def credit_payout_ledger_as_deposit(app, merchant_id: str, units: int, chain: str = "devnet"):
    """Book a deposit to the payout wallet straight into the ledger (WORLD -> PAYOUT), as the
    watcher does for a confirmed transfer to the wallet, without the chain transfer."""
    with app.app_context(), db.transaction() as session:
        ledger.move(session, merchant_id, chain, "deposit", units, Account.WORLD, Account.PAYOUT)


def payout_balance(app, merchant_id: str, account: Account, chain: str = "devnet") -> int:
    with app.app_context():
        return ledger.balance(db.session(), merchant_id, chain, account)


def give_gas(devnet, address: str, wei: int = 10 * ETH) -> None:
    """Set the address's native balance on anvil: what pays the payouts' fees."""
    devnet.rpc("anvil_setBalance", address, hex(wei))


def new_evm_key() -> tuple[bytes, str]:
    """A fresh private key and its address."""
    key = secrets.token_bytes(32)
    return key, EthAccount.from_key(key).address


def somebody() -> str:
    """Some EVM address: a payout's destination."""
    return new_evm_key()[1]


def hot_wallet(client, merchant, chain: str = "devnet") -> dict[str, Any]:
    response = client.post(WALLETS, json={"chain": chain, "mode": "hot"}, headers=merchant.headers)
    assert response.status_code == 201, response.json
    return response.json


def funded_wallet(app, client, merchant, devnet, tokens: int = 100 * USDT) -> dict[str, Any]:
    """A hot devnet payout wallet with ``tokens`` available in the ledger and gas on chain."""
    wallet = hot_wallet(client, merchant)
    credit_payout_ledger_as_deposit(app, merchant.id, tokens)
    give_gas(devnet, wallet["address"])
    return wallet


def payout_body(**fields: Any) -> dict[str, Any]:
    body = {"chain": "devnet", "to": somebody(), "amount": "10", "reference": "withdrawal-1"}
    body.update(fields)
    return body


def count(app, model) -> int:
    with app.app_context():
        return db.session().scalar(sa.select(sa.func.count()).select_from(model))


def stored_payout(app, payout_id: str) -> Payout:
    with app.app_context():
        return db.session().scalar(sa.select(Payout).where(Payout.id == payout_id))


def stored_wallet(app, wallet_id: str) -> PayoutWallet:
    with app.app_context():
        return db.session().scalar(sa.select(PayoutWallet).where(PayoutWallet.id == wallet_id))
