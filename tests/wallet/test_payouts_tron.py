"""Payouts on the local TRON node: hot and external wallets, end to end, ledger = chain."""

from __future__ import annotations

import json
import secrets

import pytest
import sqlalchemy as sa

from gateway.core.models import Event
from gateway.core.wallet import payouts
from gateway.core.wallet import sender as sending
from gateway.core.wallet.models import Account, PayoutTransaction
from gateway.web import db
from tests.fixtures.tron import PAYER
from tests.wallet.conftest import (
    APPROVER,
    CREATOR,
    PASSPHRASE,
    random_tron_address,
    sign_tron_offline,
)

USDT, TRX = 10**6, 10**6


def funded(office, node, address: str, tokens: int) -> None:
    """Send the wallet tokens and TRX for fees, and let the deposit count."""
    node.transfer(PAYER, address, tokens)
    node.chain.fund(address, 500 * TRX)
    office.sync(blocks=1)
    office.sync(blocks=5)  # past solidification
    assert office.balance(Account.PAYOUT) == tokens


def chain_balance(office, address: str) -> int:
    return office.driver.balance(address)


def test_a_hot_wallet_payout_goes_end_to_end(tron_office, tron_node):
    wallet = tron_office.hot_wallet()
    funded(tron_office, tron_node, wallet.address, 100 * USDT)
    to = random_tron_address()

    payout_id = tron_office.pay_out(to, 30 * USDT)
    assert tron_office.payout(payout_id).status == "awaiting_approval"
    assert tron_office.balance(Account.PAYOUT) == 70 * USDT
    assert tron_office.balance(Account.RESERVED) == 30 * USDT
    tron_office.sync()
    assert tron_office.payout(payout_id).status == "awaiting_approval"  # never sent unapproved

    tron_office.approve(payout_id)
    done = tron_office.until(payout_id, "confirmed")
    assert chain_balance(tron_office, to) == 30 * USDT
    assert chain_balance(tron_office, wallet.address) == 70 * USDT
    assert tron_office.balance(Account.PAYOUT) == 70 * USDT
    assert tron_office.balance(Account.RESERVED) == 0
    assert done.fee_paid and done.fee_paid > 0 and done.tx_hash
    events = [e for e in event_types(tron_office) if e.startswith("payout.")]
    assert events == ["payout.created", "payout.approved", "payout.broadcast", "payout.confirmed"]


def event_types(office) -> list[str]:
    with office.app.app_context():
        return [e.type for e in db.session().scalars(sa.select(Event).order_by(Event.seq))]


def test_an_external_wallet_payout_is_sent_only_as_approved(tron_office, tron_node):
    key = secrets.token_bytes(32)
    address = tron_office.driver.address_of_key(key)
    tron_office.external_wallet(address)
    funded(tron_office, tron_node, address, 50 * USDT)
    to = random_tron_address()
    payout_id = tron_office.pay_out(to, 20 * USDT)
    tron_office.approve(payout_id)
    tron_office.sync()
    unsigned = tron_office.payout(payout_id).unsigned
    assert unsigned and unsigned["txID"]

    # a signer that changed the amount: the raw data no longer is the prepared one
    other = tron_office.driver.build_transfer(address, to, 21 * USDT).unsigned
    with tron_office.app.app_context(), db.transaction() as session:
        payout = tron_office.payout(payout_id, session)
        with pytest.raises(ValueError, match="amount"):
            sending.attach_signed(
                session, tron_office.driver, payout, sign_tron_offline(other, key)
            )
    # signed by another key than the wallet's
    with tron_office.app.app_context(), db.transaction() as session:
        payout = tron_office.payout(payout_id, session)
        with pytest.raises(ValueError):
            sending.attach_signed(
                session,
                tron_office.driver,
                payout,
                sign_tron_offline(unsigned, secrets.token_bytes(32)),
            )
    with tron_office.app.app_context(), db.transaction() as session:
        payout = tron_office.payout(payout_id, session)
        sending.attach_signed(session, tron_office.driver, payout, sign_tron_offline(unsigned, key))
    tron_office.until(payout_id, "confirmed")
    assert chain_balance(tron_office, to) == 20 * USDT
    assert tron_office.balance(Account.PAYOUT) == 30 * USDT == chain_balance(tron_office, address)


def test_a_cancelled_payout_gives_its_reserve_back_and_is_never_sent(tron_office, tron_node):
    wallet = tron_office.hot_wallet()
    funded(tron_office, tron_node, wallet.address, 10 * USDT)
    payout_id = tron_office.pay_out(random_tron_address(), 10 * USDT)
    with tron_office.app.app_context(), db.transaction() as session:
        payouts.cancel(session, tron_office.payout(payout_id, session), CREATOR)
    assert tron_office.balance(Account.PAYOUT) == 10 * USDT
    with (
        tron_office.app.app_context(),
        db.transaction() as session,
        pytest.raises(payouts.PayoutRefused, match="cancelled"),
    ):
        payouts.approve(session, tron_office.payout(payout_id, session), APPROVER)
    tron_office.sync(blocks=2)
    assert chain_balance(tron_office, wallet.address) == 10 * USDT


def test_hot_wallet_key_never_leaves_the_keystore(tron_office):
    wallet = tron_office.hot_wallet()
    sealed = json.loads(wallet.keystore)
    assert sealed["crypto"]["kdf"] == "scrypt"
    key = tron_office.ring.open(wallet.keystore)
    assert tron_office.driver.address_of_key(key) == wallet.address
    assert key.hex() not in wallet.keystore


def transfers_to(office, node, address: str) -> list[int]:
    """Every token transfer to ``address`` on the node's chain, read from its blocks."""
    head = office.driver.tip().number
    found = office.driver.scan(1, head).transfers
    return [t.amount for t in found if t.to_address == address]


def test_a_broadcast_that_times_out_lands_exactly_once(tron_office, tron_node):
    wallet = tron_office.hot_wallet()
    funded(tron_office, tron_node, wallet.address, 40 * USDT)
    to = random_tron_address()
    payout_id = tron_office.pay_out(to, 25 * USDT)
    tron_office.approve(payout_id)
    # the node takes the transaction but answers after the driver gave up, every try
    tron_node.stall(4, 2.5, path="/wallet/broadcasttransaction")
    tron_office.sync()
    assert tron_office.payout(payout_id).status == "approved"  # not known to be sent
    tron_office.until(payout_id, "confirmed")
    assert transfers_to(tron_office, tron_node, to) == [25 * USDT]
    with tron_office.app.app_context():
        sent = db.session().scalars(
            sa.select(PayoutTransaction).where(PayoutTransaction.payout_id == payout_id)
        )
        assert len(sent.all()) == 1


def test_a_wrong_passphrase_stops_hot_signing_and_nothing_else(tron_office, tron_node, monkeypatch):
    wallet = tron_office.hot_wallet()
    funded(tron_office, tron_node, wallet.address, 40 * USDT)
    payout_id = tron_office.pay_out(random_tron_address(), 5 * USDT)
    tron_office.approve(payout_id)
    monkeypatch.setenv("TEST_WALLET_PASSPHRASE", "not the passphrase")
    order = tron_office_order(tron_office)
    tron_node.transfer(PAYER, order["address"], 3 * USDT)
    tron_office.sync(blocks=1)
    tron_office.sync(blocks=5)
    payout = tron_office.payout(payout_id)
    assert (payout.status, payout.tx_hash) == ("approved", None)
    assert "passphrase" in payout.failure and "not the passphrase" not in payout.failure
    assert tron_office.balance(Account.RECEIVED) == 3 * USDT  # payments go on
    monkeypatch.setenv("TEST_WALLET_PASSPHRASE", PASSPHRASE)
    tron_office.until(payout_id, "confirmed")


def tron_office_order(office, amount: str = "3") -> dict:
    client = office.app.test_client()
    body = {"amount": amount, "chain": "tron", "reference": "r"}
    created = client.post("/api/v1/orders", json=body, headers=office.merchant.headers)
    assert created.status_code == 201, created.json
    return created.json


def test_an_expired_unsent_transaction_is_signed_again_only_once_it_cannot_land(
    tron_office, tron_node
):
    wallet = tron_office.hot_wallet()
    funded(tron_office, tron_node, wallet.address, 40 * USDT)
    to = random_tron_address()
    payout_id = tron_office.pay_out(to, 7 * USDT)
    tron_office.approve(payout_id)
    # every broadcast refused as if the node were overloaded, until the first has expired
    tron_node.overload(400, path="/wallet/broadcasttransaction")
    first = None
    for _ in range(10):
        tron_office.sync(blocks=60)  # 3 minutes of chain time a round
        first = first or tron_office.payout(payout_id).tx_hash
    tron_node._faults.clear()
    done = tron_office.until(payout_id, "confirmed")
    assert first is not None and done.tx_hash != first
    assert transfers_to(tron_office, tron_node, to) == [7 * USDT]


def test_the_overpaid_part_of_an_order_is_refunded_and_no_more(tron_office, tron_node):
    wallet = tron_office.hot_wallet()
    funded(tron_office, tron_node, wallet.address, 40 * USDT)
    order = tron_office_order(tron_office, "10")
    buyer = random_tron_address()
    tron_node.chain.mint(buyer, 20 * USDT)
    tron_node.chain.fund(buyer, 100 * TRX)
    tron_node.transfer(buyer, order["address"], 12 * USDT)
    tron_office.sync(blocks=1)
    tron_office.sync(blocks=5)
    with pytest.raises(payouts.PayoutRefused, match="refundable 2"):
        tron_office.pay_out(buyer, 3 * USDT, order_id=order["id"])
    refund = tron_office.pay_out(buyer, 2 * USDT, order_id=order["id"])
    with pytest.raises(payouts.PayoutRefused, match="refundable 0"):
        tron_office.pay_out(buyer, 1, order_id=order["id"])
    tron_office.approve(refund)
    tron_office.until(refund, "confirmed")
    assert chain_balance(tron_office, buyer) == 20 * USDT - 12 * USDT + 2 * USDT
