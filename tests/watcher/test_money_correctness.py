"""Regressions from an outside review: each history here lost, moved or mis-flagged money.

Every test replays one history on the real anvil devnet (or the local TRON node) and
checks what the shop is told about it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from gateway.core.models import ChainCursor, Event, Order, ScannedBlock, utcnow
from gateway.core.reorgs import ReorgTooDeep
from gateway.web import db
from plugins.base import DriverError
from plugins.evm.driver import EvmDriver

USDT = 10**6


def proxied_driver(shop, proxy) -> EvmDriver:
    """The devnet's driver, reaching the node through a fault proxy."""
    return EvmDriver(
        "devnet",
        {"rpc_url": proxy.url, "chain_id": 31337, "token": shop.devnet.usdt, "confirmations": 3},
    )


def order_events(shop, order_id: str) -> list[Event]:
    with shop.app.app_context():
        rows = db.session().scalars(sa.select(Event).order_by(Event.seq)).all()
    return [e for e in rows if order_id in (e.data.get("id"), e.data.get("order", {}).get("id"))]


def set_expiry(shop, order_id: str, moment: datetime) -> None:
    with shop.app.app_context(), db.transaction() as session:
        session.scalar(sa.select(Order).where(Order.id == order_id)).expires_at = moment


def latest_block_time(devnet) -> int:
    return devnet.w3.eth.get_block("latest")["timestamp"]


# 1. A reorg noticed one block late: the payment sat in a block below the one that changed.


def test_a_reorg_noticed_late_rescans_from_the_fork_point(shop):
    devnet = shop.devnet
    order = shop.order("10")
    shop.sync()
    fork = devnet.snapshot()
    devnet.mine(2)  # two blocks without the payment; the watcher scans them
    shop.sync()
    devnet.revert(fork)  # a depth-2 reorg while the watcher is away ...
    shop.pay(order, 10 * USDT)  # ... whose first new block pays the order
    devnet.mine(2)  # and the new fork grows past the old head
    shop.sync()
    devnet.mine(3)
    shop.sync()
    paid = shop.get(order["id"])
    assert (paid["status"], paid["amount_confirmed"]) == ("paid", "10")


def test_a_reorg_below_every_kept_hash_stops_the_chain_until_an_operator_rescans(shop, app, runner):
    devnet = shop.devnet
    order = shop.order("10")
    shop.sync()
    fork_height = devnet.w3.eth.block_number
    fork = devnet.snapshot()
    devnet.mine(3)
    shop.sync()
    with app.app_context(), db.transaction() as session:
        newest = session.scalar(sa.select(sa.func.max(ScannedBlock.number)))
        # as if only the newest hash were kept: nothing below the reorg to return to
        session.execute(sa.delete(ScannedBlock).where(ScannedBlock.number < newest))
        before = session.get(ChainCursor, "devnet").next_block
    devnet.revert(fork)
    shop.pay(order, 10 * USDT)
    devnet.mine(4)
    with pytest.raises(ReorgTooDeep, match="gateway rescan devnet"):
        shop.watcher().step()
    with app.app_context():
        assert db.session().get(ChainCursor, "devnet").next_block == before
    assert shop.get(order["id"])["status"] == "pending"

    done = runner.invoke(args=["rescan", "devnet", "--from", str(fork_height + 1)])
    assert done.exit_code == 0, done.output
    shop.sync()
    assert shop.get(order["id"])["status"] == "paid"


# 2. A reorg that shifts log indexes must not move one order's payment to another.


def batch(devnet, pays: list[tuple[str, int]]) -> bytes:
    """One signed transaction paying several addresses (TestTether.transferMany)."""
    to, values = [a for a, _ in pays], [v for _, v in pays]
    return devnet.signed_call(devnet.usdt, "transferMany", to, values)


def reinclude_one_log_later(devnet, raw: bytes, someone: str) -> None:
    """Mine ``raw`` again after another token transfer, so its logs move one index later."""
    devnet.rpc("evm_setAutomine", False)
    devnet.w3.eth.send_raw_transaction(devnet.signed_transfer(devnet.usdt, 1, someone, USDT))
    devnet.w3.eth.send_raw_transaction(raw)
    devnet.rpc("evm_mine")
    devnet.rpc("evm_setAutomine", True)


def test_a_batch_reincluded_one_log_later_pays_each_order_its_own(shop):
    devnet = shop.devnet
    devnet.mint(devnet.usdt, devnet.accounts[1].address, 100 * USDT)
    a, b, other = shop.order("10"), shop.order("20"), shop.order("1")
    before = devnet.snapshot()
    raw = batch(devnet, [(a["address"], 10 * USDT), (b["address"], 20 * USDT)])
    devnet.send_raw(raw)
    shop.sync()
    devnet.revert(before)
    reinclude_one_log_later(devnet, raw, other["address"])
    devnet.mine(3)
    shop.sync()
    shop.sync()
    for order, amount in ((a, "10"), (b, "20")):
        state = shop.get(order["id"])
        assert (state["status"], state["amount_confirmed"], state["overpaid"]) == (
            "paid",
            amount,
            False,
        )
    live = [p for p in shop.payments() if p.status != "reverted"]
    assert sorted((p.to_address, p.amount) for p in live) == sorted(
        [(a["address"], 10 * USDT), (b["address"], 20 * USDT), (other["address"], USDT)]
    )


@pytest.mark.parametrize("amounts", [(3, 7), (5, 5)], ids=["different", "identical"])
def test_one_order_paid_twice_in_one_transaction_counts_both(shop, amounts):
    devnet = shop.devnet
    devnet.mint(devnet.usdt, devnet.accounts[1].address, 100 * USDT)
    order = shop.order("10")
    before = devnet.snapshot()
    raw = batch(devnet, [(order["address"], n * USDT) for n in amounts])
    devnet.send_raw(raw)
    shop.sync()
    devnet.revert(before)
    reinclude_one_log_later(devnet, raw, devnet.accounts[5].address)
    devnet.mine(3)
    shop.sync()
    shop.sync()
    state = shop.get(order["id"])
    assert (state["status"], state["amount_confirmed"]) == ("paid", "10")
    live = [p for p in shop.payments() if p.status != "reverted"]
    assert sorted(p.amount for p in live) == sorted(n * USDT for n in amounts)


# 3. A lagging backend answers for blocks it does not have as if they were empty.


def test_logs_from_a_backend_without_the_range_end_are_not_taken_as_empty(shop, evm_proxy):
    order = shop.order("10")
    watcher = shop.watcher(driver=proxied_driver(shop, evm_proxy))
    shop.sync(watcher)
    shop.pay(order, 10 * USDT)
    evm_proxy.lag(behind=1)  # the next eth_getLogs reaches a node one block behind
    with pytest.raises(DriverError, match="not available"):
        shop.sync(watcher)  # refused, not taken as "no logs"
    shop.devnet.mine(3)
    shop.sync(watcher)
    assert shop.get(order["id"])["status"] == "paid"


# 4. Money on a cancelled order is always flagged, also when a reorg brings it back.


def test_a_payment_revived_after_the_order_was_cancelled_is_late(shop):
    devnet = shop.devnet
    order = shop.order("10")
    before = devnet.snapshot()
    raw = devnet.signed_transfer(devnet.usdt, 0, order["address"], 10 * USDT)
    devnet.send_raw(raw)
    shop.sync()
    devnet.revert(before)
    devnet.mine(3)
    shop.sync()
    assert shop.get(order["id"])["status"] == "pending"
    cancel = shop.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=shop.merchant.headers)
    assert cancel.status_code == 200, cancel.json
    devnet.send_raw(raw)  # the same transaction lands after all
    devnet.mine(3)
    shop.sync()
    shop.sync()
    after = shop.get(order["id"])
    assert (after["status"], after["amount_confirmed"], after["late"]) == ("cancelled", "10", True)
    assert [p.late for p in shop.payments()] == [True]


# 5. Zero-value transfers are no payments (address poisoning).


def test_zero_value_transfers_are_ignored(shop):
    order, expired = shop.order("10"), shop.order("10")
    shop.expire_now(expired["id"])
    shop.sync()
    for target in (order, expired):
        shop.pay(target, 0)
    shop.devnet.mine(3)
    shop.sync()
    assert shop.payments() == []
    assert not shop.get(expired["id"])["late"]
    assert not any(e.type.startswith("payment.") for e in order_events(shop, order["id"]))


# Also: expiry by a stale node's clock, missing block timestamps, event order.


def test_a_stale_node_never_expires_an_order_paid_in_blocks_it_has_not_shown(shop, wait_for):
    devnet = shop.devnet
    order = shop.order("10")
    shop.sync()
    chain_now = latest_block_time(devnet)
    deadline = datetime.fromtimestamp(chain_now + 2, UTC)
    set_expiry(shop, order["id"], deadline)
    wait_for(lambda: utcnow() > deadline + timedelta(seconds=1), timeout=10)
    shop.sync()  # the wall clock is past the expiry; the chain's newest block is not
    assert shop.get(order["id"])["status"] == "pending"
    devnet.rpc("evm_setNextBlockTimestamp", chain_now + 1)  # mined before the expiry
    shop.pay(order, 10 * USDT)
    devnet.mine(3)
    shop.sync()
    assert shop.get(order["id"])["status"] == "paid"
    assert "order.expired" not in [e.type for e in order_events(shop, order["id"])]


def test_a_payment_made_in_time_is_on_time_when_logs_carry_no_timestamp(shop, evm_proxy, wait_for):
    order = shop.order("10")
    watcher = shop.watcher(driver=proxied_driver(shop, evm_proxy))
    evm_proxy.strip_block_timestamps()
    shop.sync(watcher)
    shop.pay(order, 10 * USDT)
    deadline = datetime.fromtimestamp(latest_block_time(shop.devnet) + 1, UTC)
    set_expiry(shop, order["id"], deadline)
    # the watcher was away: it first sees the payment after the expiry has passed
    wait_for(lambda: utcnow() > deadline + timedelta(seconds=1), timeout=10)
    shop.devnet.mine(3)
    shop.sync(watcher)
    state = shop.get(order["id"])
    assert (state["status"], state["late"]) == ("paid", False)
    assert [p.late for p in shop.payments()] == [False]


def test_events_of_one_order_carry_its_increasing_version(shop):
    order = shop.order("10")
    shop.pay(order, 4 * USDT)
    shop.sync()
    shop.pay(order, 6 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    seen = [
        (e.type, e.data.get("version", e.data.get("order", {}).get("version")))
        for e in order_events(shop, order["id"])
    ]
    versions = [v for _, v in seen]
    assert versions == sorted(versions) and len(set(versions)) == len(versions), seen
    assert seen[0] == ("order.created", 1)
    assert shop.get(order["id"])["version"] == versions[-1]


def test_a_hanging_node_never_blocks_order_creation(shop, evm_proxy, wait_for):
    watcher = shop.watcher(driver=proxied_driver(shop, evm_proxy))
    shop.sync(watcher)
    shop.order("1")
    shop.devnet.mine()
    evm_proxy.hang_on("eth_getLogs")  # the node stops answering in the middle of a step
    failures: list[Exception] = []

    def stuck_step() -> None:
        try:
            watcher.step()
        except DriverError as exc:  # the node's timeout, once it is reached
            failures.append(exc)

    step = threading.Thread(target=stuck_step, daemon=True)
    step.start()
    try:
        wait_for(lambda: evm_proxy.received["eth_getLogs"] > 0, timeout=10)
        started = time.monotonic()
        created = shop.order("2")  # SQLite: a write, while the watcher waits on the node
        assert created["status"] == "pending"
        # the node's timeout is 10 s: a step holding the write lock would hold this as long
        assert time.monotonic() - started < 5
        assert step.is_alive()  # the watcher really was still waiting on the node
    finally:
        evm_proxy.release()
        step.join(timeout=30)
    assert len(failures) == 1


def test_a_reorg_seen_through_one_new_block_is_found_by_its_parent_link(shop):
    devnet = shop.devnet
    order = shop.order("10")
    before = devnet.snapshot()
    shop.pay(order, 10 * USDT)
    shop.sync()  # scanned up to the block that pays
    devnet.revert(before)
    devnet.mine(2)  # that block replaced, and exactly one block on top
    result = shop.watcher().step()
    assert result.rewound_to is not None and result.blocks == 0
    shop.sync()
    assert [p.status for p in shop.payments()] == ["reverted"]
    assert shop.get(order["id"])["status"] == "pending"


def test_at_the_head_a_step_costs_one_call_and_a_new_block_one_more_range(shop, evm_proxy):
    watcher = shop.watcher(driver=proxied_driver(shop, evm_proxy))
    shop.order("1")
    shop.sync(watcher)
    evm_proxy.reset()
    for _ in range(5):
        assert watcher.step().caught_up  # no new block
    assert dict(evm_proxy.received) == {"eth_getBlockByNumber": 5}
    evm_proxy.reset()
    shop.devnet.mine()
    assert watcher.step().blocks == 1
    # the tip, then the range's logs with its end's header in one batch
    assert dict(evm_proxy.received) == {"eth_getBlockByNumber": 2, "eth_getLogs": 1}
