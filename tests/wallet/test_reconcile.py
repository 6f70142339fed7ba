"""gateway reconcile: the ledger equals the chain, and a difference is found and named."""

from __future__ import annotations

from eth_account import Account as EthAccount

from gateway.cli.reconcile import reconcile
from gateway.core.wallet import ledger
from gateway.core.wallet.models import Account
from gateway.web import db
from tests.wallet.test_payouts_evm import funded

USDT = 10**6


def test_the_ledger_agrees_with_the_chain_until_it_does_not(evm_office, devnet, shop, runner):
    order = shop.order("10")
    shop.pay(order, 12 * USDT)  # overpaid: all of it is on the address
    wallet = evm_office.hot_wallet()
    funded(evm_office, devnet, wallet.address, 30 * USDT)
    payout_id = evm_office.pay_out(EthAccount.create().address, 8 * USDT)
    evm_office.approve(payout_id)
    evm_office.until(payout_id, "confirmed")

    agreed = runner.invoke(reconcile, ["--chain", "devnet", "--from-block", "0"])
    assert agreed.exit_code == 0, agreed.output
    assert "2 addresses, 0 differ" in agreed.output
    assert order["address"] in agreed.output and wallet.address in agreed.output

    with evm_office.app.app_context(), db.transaction() as session:
        # a movement the chain never saw: what a bug or a hand edit would leave behind
        ledger.move(
            session,
            evm_office.merchant.id,
            "devnet",
            "payment",
            1,
            Account.WORLD,
            Account.RECEIVED,
            address=order["address"],
        )
    differs = runner.invoke(reconcile, ["--chain", "devnet", "--from-block", "0"])
    assert differs.exit_code == 1
    line = next(line for line in differs.output.splitlines() if order["address"] in line)
    assert "DIFFERS by 0.000001" in line
