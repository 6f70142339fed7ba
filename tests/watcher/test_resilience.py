"""The watcher survives kills, restarts, node errors and rate limits without losing or
double-counting a transfer."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading

import sqlalchemy as sa

from gateway.core.models import Order, Payment
from gateway.web import db
from plugins.evm.driver import EvmDriver

USDT = 10**6


def _watch_process(app_config, devnet) -> subprocess.Popen:
    env = {
        **os.environ,
        "GATEWAY_DATABASE__URL": app_config["database"]["url"],
        "GATEWAY_CHAINS__DEVNET__DRIVER": "evm",
        "GATEWAY_CHAINS__DEVNET__RPC_URL": devnet.rpc_url,
        "GATEWAY_CHAINS__DEVNET__CHAIN_ID": "31337",
        "GATEWAY_CHAINS__DEVNET__TOKEN": devnet.usdt,
        "GATEWAY_CHAINS__DEVNET__CONFIRMATIONS": "3",
        "GATEWAY_CHAINS__DEVNET__MAX_BLOCK_RANGE": "2",
        "GATEWAY_WATCHER__POLL_INTERVAL": "0.05",
        "GATEWAY_WATCHER__LOCK_TTL": "1",
    }
    log = open(os.environ.get("WATCH_LOG", os.devnull), "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "watch"], env=env, stdout=log, stderr=log
    )


def test_killed_and_restarted_watcher_counts_every_transfer_once(shop, app, app_config, wait_for):
    rng = random.Random(7)
    orders = [shop.order(str(n)) for n in (3, 5, 7, 11)]
    paid_units = {o["id"]: 0 for o in orders}
    for _ in range(6):
        for order in rng.sample(orders, 2):
            units = rng.randint(1, 3) * USDT
            shop.pay(order, units)
            paid_units[order["id"]] += units
        shop.devnet.mine(rng.randint(0, 3))
        process = _watch_process(app_config, shop.devnet)
        # kill it somewhere in the middle of its work, without warning
        threading.Event().wait(rng.uniform(0.6, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    shop.devnet.mine(4)
    process = _watch_process(app_config, shop.devnet)
    try:

        def settled():
            with app.app_context():
                session = db.session()
                confirming = session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Payment)
                    .where(Payment.status != "confirmed")
                )
                total = session.scalar(sa.select(sa.func.count()).select_from(Payment))
                session.close()
            return confirming == 0 and total == 12

        wait_for(settled, timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=10)

    with app.app_context():
        rows = db.session().execute(sa.select(Order.id, Order.amount_seen)).all()
        keys = db.session().execute(sa.select(Payment.tx_hash, Payment.log_index)).all()
    assert dict(rows) == paid_units
    assert len(keys) == len(set(keys)) == 12


def test_node_errors_and_rate_limits_are_survived(shop, evm_proxy, wait_for):
    driver = EvmDriver(
        "devnet",
        {
            "rpc_url": evm_proxy.url,
            "chain_id": 31337,
            "token": shop.devnet.usdt,
            "confirmations": 3,
        },
    )
    watcher = shop.watcher(driver=driver)
    order = shop.order("10")
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop, 0.05), daemon=True)
    evm_proxy.rate_limit(6, retry_after="0")
    evm_proxy.unavailable(3)
    thread.start()
    try:
        shop.pay(order, 10 * USDT)
        evm_proxy.rate_limit(4, retry_after="1")
        shop.devnet.mine(3)
        evm_proxy.unavailable(2)
        wait_for(lambda: shop.get(order["id"])["status"] == "paid", timeout=60)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert evm_proxy.received != evm_proxy.forwarded  # faults were really served
    assert [p.status for p in shop.payments()] == ["confirmed"]
