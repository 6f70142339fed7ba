"""Payouts on the anvil devnet: hot and external wallets, a stuck transaction replaced, the
node timing out mid-broadcast; the ledger always agrees with the chain."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from eth_account import Account as EthAccount

from gateway.core.models import Event
from gateway.core.wallet import sender as sending
from gateway.core.wallet.models import Account, PayoutTransaction
from gateway.web import db

USDT, ETH = 10**6, 10**18


def funded(office, devnet, address: str, tokens: int) -> None:
    """Send the wallet tokens and ether for gas, and let the deposit count."""
    devnet.transfer(devnet.usdt, 0, address, tokens)
    devnet.rpc("anvil_setBalance", address, hex(ETH))
    office.sync(blocks=3)
    assert office.balance(Account.PAYOUT) == tokens


def somebody() -> str:
    return EthAccount.create().address


def sent_transactions(office, payout_id: str) -> list[PayoutTransaction]:
    with office.app.app_context():
        return list(
            db.session().scalars(
                sa.select(PayoutTransaction)
                .where(PayoutTransaction.payout_id == payout_id)
                .order_by(PayoutTransaction.seq)
            )
        )


def test_a_hot_wallet_payout_goes_end_to_end(evm_office, devnet):
    wallet = evm_office.hot_wallet()
    funded(evm_office, devnet, wallet.address, 100 * USDT)
    to = somebody()
    payout_id = evm_office.pay_out(to, 40 * USDT)
    evm_office.approve(payout_id)
    done = evm_office.until(payout_id, "confirmed")
    assert devnet.balance(devnet.usdt, to) == 40 * USDT
    assert devnet.balance(devnet.usdt, wallet.address) == 60 * USDT
    assert evm_office.balance(Account.PAYOUT) == 60 * USDT
    assert evm_office.balance(Account.RESERVED) == 0
    spent = ETH - devnet.w3.eth.get_balance(wallet.address)
    assert done.fee_paid == spent > 0  # the fee booked is the ether that left


def test_payouts_of_one_wallet_take_consecutive_nonces(evm_office, devnet):
    wallet = evm_office.hot_wallet()
    funded(evm_office, devnet, wallet.address, 100 * USDT)
    ids = [evm_office.pay_out(somebody(), (n + 1) * USDT) for n in range(3)]
    for payout_id in ids:
        evm_office.approve(payout_id)
    for payout_id in ids:
        evm_office.until(payout_id, "confirmed")
    assert [evm_office.payout(i).nonce for i in ids] == [0, 1, 2]
    assert evm_office.balance(Account.PAYOUT) == 94 * USDT


def test_an_external_wallet_payout_is_sent_only_as_approved(evm_office, devnet):
    signer = EthAccount.create()
    evm_office.external_wallet(signer.address)
    funded(evm_office, devnet, signer.address, 50 * USDT)
    to = somebody()
    payout_id = evm_office.pay_out(to, 20 * USDT)
    evm_office.approve(payout_id)
    evm_office.sync()
    unsigned = evm_office.payout(payout_id).unsigned
    tampered = {**unsigned, "data": unsigned["data"][:-2] + "ff"}  # another amount
    for wrong in (
        EthAccount.sign_transaction(tampered, signer.key),
        EthAccount.sign_transaction(unsigned, EthAccount.create().key),
    ):
        with evm_office.app.app_context(), db.transaction() as session:
            payout = evm_office.payout(payout_id, session)
            with pytest.raises(ValueError):
                sending.attach_signed(
                    session, evm_office.driver, payout, "0x" + wrong.raw_transaction.hex()
                )
    signed = EthAccount.sign_transaction(unsigned, signer.key)
    with evm_office.app.app_context(), db.transaction() as session:
        payout = evm_office.payout(payout_id, session)
        sending.attach_signed(
            session, evm_office.driver, payout, "0x" + signed.raw_transaction.hex()
        )
    evm_office.until(payout_id, "confirmed")
    assert devnet.balance(devnet.usdt, to) == 20 * USDT
    assert (
        evm_office.balance(Account.PAYOUT)
        == 30 * USDT
        == devnet.balance(devnet.usdt, signer.address)
    )


def test_a_stuck_transaction_is_replaced_and_only_one_is_mined(evm_office, devnet, wait_for):
    wallet = evm_office.hot_wallet()
    funded(evm_office, devnet, wallet.address, 10 * USDT)
    to = somebody()
    payout_id = evm_office.pay_out(to, 5 * USDT)
    evm_office.approve(payout_id)
    devnet.rpc("evm_setAutomine", False)
    try:
        evm_office.sync()  # signed and broadcast, but nothing mines it
        first = evm_office.payout(payout_id).tx_hash
        started = time.monotonic()
        wait_for(lambda: time.monotonic() - started > 1.2, timeout=5)  # stuck_after: 1 s
        evm_office.sync()  # replaced and sent in the same pass: the node keeps the higher fee
        replacement = evm_office.payout(payout_id).tx_hash
        assert replacement != first
        assert [t.nonce for t in sent_transactions(evm_office, payout_id)] == [0, 0]
    finally:
        devnet.rpc("evm_setAutomine", True)
    done = evm_office.until(payout_id, "confirmed")
    assert done.tx_hash == replacement  # the one that won is the one the payout names
    assert devnet.balance(devnet.usdt, to) == 5 * USDT  # paid once


def test_a_node_that_times_out_mid_broadcast_still_lands_one_transaction(
    evm_office, devnet, evm_proxy, app
):
    from plugins.evm.driver import EvmDriver

    wallet = evm_office.hot_wallet()
    funded(evm_office, devnet, wallet.address, 10 * USDT)
    to = somebody()
    payout_id = evm_office.pay_out(to, 5 * USDT)
    evm_office.approve(payout_id)
    proxied = EvmDriver(
        "devnet",
        {
            "rpc_url": evm_proxy.url,
            "chain_id": 31337,
            "token": devnet.usdt,
            "confirmations": 3,
            "timeout": 1,
        },
    )
    evm_proxy.hang_on("eth_sendRawTransaction")  # the node gets it; the answer never comes
    sender = evm_office.sender()
    sender.driver = proxied
    sender.run_once(proxied.tip())
    evm_proxy.release()
    evm_office.until(payout_id, "confirmed")
    assert devnet.balance(devnet.usdt, to) == 5 * USDT
    assert len(sent_transactions(evm_office, payout_id)) == 1


def test_a_payout_whose_block_a_reorg_removes_is_sent_again_and_paid_once(evm_office, devnet):
    wallet = evm_office.hot_wallet()
    funded(evm_office, devnet, wallet.address, 10 * USDT)
    to = somebody()
    payout_id = evm_office.pay_out(to, 4 * USDT)
    evm_office.approve(payout_id)
    before = devnet.snapshot()
    evm_office.sync()  # signed, broadcast, mined at once (automine)
    evm_office.sync()  # seen in its block, not yet final
    mined = evm_office.payout(payout_id)
    assert (mined.status, mined.block_number is not None) == ("broadcast", True)
    devnet.revert(before)  # its block is gone, and the node forgot the transaction
    devnet.mine(2)
    evm_office.sync()
    assert evm_office.payout(payout_id).status == "broadcast"
    done = evm_office.until(payout_id, "confirmed")
    assert done.tx_hash == mined.tx_hash  # the same bytes, sent again
    assert devnet.balance(devnet.usdt, to) == 4 * USDT
    assert evm_office.balance(Account.PAYOUT) == 6 * USDT


def test_low_gas_is_announced_once_until_topped_up(evm_office, devnet):
    wallet = evm_office.hot_wallet()
    devnet.rpc("anvil_setBalance", wallet.address, hex(10**15))
    sender = evm_office.sender()
    sender.gas_floor = 10**16
    tip = evm_office.driver.tip()
    sender.run_once(tip)
    sender.run_once(tip)
    assert shop_events(evm_office).count("payout_wallet.low_gas") == 1
    devnet.rpc("anvil_setBalance", wallet.address, hex(ETH))
    sender.run_once(tip)
    devnet.rpc("anvil_setBalance", wallet.address, hex(10**15))
    sender.run_once(tip)
    assert shop_events(evm_office).count("payout_wallet.low_gas") == 2


def shop_events(office) -> list[str]:
    with office.app.app_context():
        return [e.type for e in db.session().scalars(sa.select(Event).order_by(Event.seq))]
