"""Orders paid on the real anvil devnet: amounts, confirmations, expiry, reorgs."""

from __future__ import annotations

import pytest

from gateway.core.watcher import NotOwner

USDT = 10**6


def test_exact_payment_goes_pending_confirming_paid(shop):
    order = shop.order("10")
    shop.sync()
    assert shop.get(order["id"])["status"] == "pending"

    shop.pay(order, 10 * USDT)
    shop.sync()
    seen = shop.get(order["id"])
    assert (seen["status"], seen["amount_received"], seen["amount_confirmed"]) == (
        "confirming",
        "10",
        "0",
    )

    shop.devnet.mine(2)  # three confirmations with the payment's own block
    shop.sync()
    paid = shop.get(order["id"])
    assert (paid["status"], paid["amount_confirmed"], paid["paid_at"] is not None) == (
        "paid",
        "10",
        True,
    )
    assert not (paid["underpaid"] or paid["overpaid"] or paid["late"])
    listed = shop.client.get(
        f"/api/v1/orders/{order['id']}/payments", headers=shop.merchant.headers
    ).json["data"]
    assert [(p["status"], p["amount"], p["from_address"]) for p in listed] == [
        ("confirmed", "10", shop.devnet.accounts[0].address)
    ]
    assert shop.events(order["id"]) == [
        "order.created",
        "order.confirming",
        "payment.received",
        "order.paid",
        "payment.confirmed",
    ]


def test_not_confirmed_before_its_depth(shop):
    order = shop.order("1")
    shop.pay(order, USDT)
    shop.devnet.mine(1)  # two confirmations of three
    shop.sync()
    assert shop.get(order["id"])["status"] == "confirming"


def test_underpay_then_top_up(shop):
    order = shop.order("10")
    shop.pay(order, 4 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    under = shop.get(order["id"])
    assert (under["status"], under["underpaid"], under["amount_confirmed"]) == (
        "pending",
        True,
        "4",
    )

    shop.pay(order, 6 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    paid = shop.get(order["id"])
    assert (paid["status"], paid["underpaid"], paid["amount_confirmed"]) == ("paid", False, "10")
    assert shop.events(order["id"]).count("payment.received") == 2
    assert "order.underpaid" in shop.events(order["id"])


def test_overpay_is_paid_and_flagged(shop):
    order = shop.order("10")
    shop.pay(order, 12_500_000)
    shop.devnet.mine(3)
    shop.sync()
    paid = shop.get(order["id"])
    assert (paid["status"], paid["overpaid"], paid["amount_received"]) == ("paid", True, "12.5")
    assert "order.overpaid" in shop.events(order["id"])


def test_expired_order_then_late_payment_is_recorded_and_flagged(shop):
    order = shop.order("10")
    shop.expire_now(order["id"])
    shop.sync()
    assert shop.get(order["id"])["status"] == "expired"

    shop.pay(order, 10 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    late = shop.get(order["id"])
    assert (late["status"], late["late"], late["amount_confirmed"]) == ("expired", True, "10")
    assert [p.late for p in shop.payments()] == [True]
    assert shop.events(order["id"]) == [
        "order.created",
        "order.expired",
        "payment.received",
        "payment.confirmed",
    ]


def test_payment_to_a_cancelled_order_is_recorded_late(shop):
    order = shop.order("10")
    shop.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=shop.merchant.headers)
    shop.pay(order, 10 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    after = shop.get(order["id"])
    assert (after["status"], after["late"], after["amount_confirmed"]) == ("cancelled", True, "10")


def test_another_token_and_foreign_addresses_are_ignored(shop):
    order = shop.order("10")
    other = shop.devnet.deploy_token()
    shop.devnet.mint(other, shop.devnet.accounts[0].address, 100 * USDT)
    shop.pay(order, 10 * USDT, token=other)
    shop.devnet.transfer(shop.devnet.usdt, 0, shop.devnet.accounts[5].address, 10 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    assert shop.payments() == []
    assert shop.get(order["id"])["status"] == "pending"


def test_fee_quirk_credits_only_the_log_to_our_address(shop):
    order = shop.order("10")
    shop.devnet.set_fee(shop.devnet.usdt, 10)  # 0.1 %: two Transfer logs per transfer
    shop.pay(order, 10 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    state = shop.get(order["id"])
    # the fee goes to the token owner; the order is credited what reached its address
    assert state["amount_received"] == "9.99"
    assert (state["status"], state["underpaid"]) == ("pending", True)


def test_reorg_removes_a_confirming_payment(shop):
    order = shop.order("10")
    before = shop.devnet.snapshot()
    shop.pay(order, 10 * USDT)
    shop.sync()
    assert shop.get(order["id"])["status"] == "confirming"

    shop.devnet.revert(before)  # the payment's block leaves the chain
    shop.devnet.mine(3)  # a longer chain without it
    shop.sync()
    back = shop.get(order["id"])
    assert (back["status"], back["amount_received"]) == ("pending", "0")
    assert [p.status for p in shop.payments()] == ["reverted"]
    assert shop.events(order["id"])[-1] == "payment.reverted"


def test_reorg_that_reincludes_the_payment_counts_it_once(shop):
    order = shop.order("10")
    before = shop.devnet.snapshot()
    raw = shop.devnet.signed_transfer(shop.devnet.usdt, 0, order["address"], 10 * USDT)
    shop.devnet.send_raw(raw)
    shop.sync()
    shop.devnet.revert(before)
    shop.devnet.mine(1)
    shop.devnet.send_raw(raw)  # the same transaction, now in another block
    shop.devnet.mine(3)
    shop.sync()
    shop.sync()
    paid = shop.get(order["id"])
    assert (paid["status"], paid["amount_confirmed"]) == ("paid", "10")
    assert [p.status for p in shop.payments()] == ["confirmed"]


def test_rescanning_the_same_blocks_counts_nothing_twice(shop, app):
    from gateway.core.models import ChainCursor
    from gateway.web import db

    order = shop.order("10")
    shop.pay(order, 10 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    with app.app_context(), db.transaction() as session:
        cursor = session.get(ChainCursor, "devnet")
        cursor.next_block = max(0, cursor.next_block - 10)  # as if the last steps were lost
    shop.sync()
    assert len(shop.payments()) == 1
    assert shop.get(order["id"])["amount_received"] == "10"


def test_a_crash_mid_step_writes_nothing_and_the_restart_counts_once(shop, monkeypatch):
    from gateway.core import payments

    order = shop.order("10")
    shop.pay(order, 10 * USDT)
    watcher = shop.watcher()

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(payments, "settle", crash)
    with pytest.raises(RuntimeError):
        while True:
            watcher.step()
    assert shop.payments() == []
    monkeypatch.undo()
    shop.devnet.mine(3)
    shop.sync(watcher)
    assert [p.status for p in shop.payments()] == ["confirmed"]


def test_a_second_watcher_stays_idle(shop):
    first, second = shop.watcher("one"), shop.watcher("two")
    first.step()
    with pytest.raises(NotOwner):
        second.step()
    first.release()
    second.step()


class LaggingOnce:
    """A driver whose block_hash answers None once for one block, like a lagging backend."""

    def __init__(self, inner, block: int):
        self.inner, self.block, self.fired = inner, block, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def block_hash(self, number: int):
        if number == self.block and not self.fired:
            self.fired = True
            return None
        return self.inner.block_hash(number)


def test_an_unknown_block_hash_never_reverts_a_payment(shop):
    from gateway.web.chains import drivers

    order = shop.order("10")
    shop.pay(order, 10 * USDT)
    shop.sync()
    block = shop.payments()[0].block_number
    with shop.app.app_context():
        real = drivers()["devnet"]
    shop.watcher(driver=LaggingOnce(real, block)).step()
    assert [p.status for p in shop.payments()] == ["confirming"]
    shop.devnet.mine(3)
    shop.sync()
    assert shop.get(order["id"])["status"] == "paid"


def test_reincluded_with_another_log_index_is_never_counted_twice(shop):
    devnet = shop.devnet
    devnet.mint(devnet.usdt, devnet.accounts[1].address, 100 * USDT)
    order, other = shop.order("10"), shop.order("1")
    before = devnet.snapshot()
    raw = devnet.signed_transfer(devnet.usdt, 0, order["address"], 10 * USDT)
    devnet.send_raw(raw)
    shop.sync()
    devnet.revert(before)
    # the new chain mines another transfer first, so ours gets log index 1 instead of 0
    devnet.rpc("evm_setAutomine", False)
    devnet.w3.eth.send_raw_transaction(
        devnet.signed_transfer(devnet.usdt, 1, other["address"], USDT)
    )
    devnet.w3.eth.send_raw_transaction(raw)
    devnet.rpc("evm_mine")
    devnet.rpc("evm_setAutomine", True)
    devnet.mine(4)
    shop.sync()
    shop.sync()
    state = shop.get(order["id"])
    assert (state["status"], state["amount_confirmed"], state["overpaid"]) == ("paid", "10", False)
    assert "order.overpaid" not in shop.events(order["id"])


def test_an_on_time_payment_reverted_after_expiry_pays_the_order_when_reincluded(shop):
    devnet = shop.devnet
    order = shop.order("10")
    before = devnet.snapshot()
    raw = devnet.signed_transfer(devnet.usdt, 0, order["address"], 10 * USDT)
    devnet.send_raw(raw)
    shop.sync()
    shop.expire_now(order["id"])  # the expiry passes while it waits for confirmations
    devnet.revert(before)
    devnet.mine(2)
    shop.sync()
    devnet.send_raw(raw)  # mined again, as wallets and mempools do
    devnet.mine(4)
    shop.sync()
    shop.sync()
    assert shop.get(order["id"])["status"] == "paid"
