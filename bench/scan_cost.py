"""What scanning costs: catching up over 100 blocks, and following the head (bench.steady).

Catch-up: starts an anvil devnet and a local TRON node, fills 100 blocks with token
transfers, then scans them the way the core watcher does: ``driver.scan`` in chunks of
``max_block_range``, recipients matched against a Python set of watched addresses. RPC calls
are counted by a FaultProxy in front of anvil and by the TRON node's request log.

Steady state: the real watcher loop at the head of each node (see bench/steady.py), with
10, 1,000 and 100,000 open orders. Rows go to bench/results.md through bench.report.

    python -m bench.scan_cost
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

if not __package__:  # run as a script: make the repository importable (tests.*)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import base58
from bip_utils import Bip44Coins
from web3 import Web3

from bench import steady
from bench.report import Row, save
from devtools.devnet import CHAIN_ID, Devnet
from plugins.base import ChainDriver
from plugins.evm.driver import EvmDriver
from plugins.tron.driver import TronDriver
from tests.support.faultproxy import FaultProxy
from tests.support.keys import account_xpub
from tests.tronnode import Chain, TronNode

BLOCKS = 100
PAID_EVERY = 4  # one block in four carries a payment to a watched address
NOISE_EVERY = 3  # and one in three a transfer to someone we do not watch
RECIPIENTS = 10  # deposit addresses that receive payments (always watched)
WATCHED = (10, 1_000, 100_000)
REPEATS = 3  # wall time is the median of these scans
TRON_PAYER = "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6"  # index 0 of the test mnemonic


@dataclass(frozen=True, slots=True)
class Measure:
    """One scan of the bench range with a given number of watched addresses."""

    watched: int
    calls: int
    seconds: float
    matched: int


@dataclass
class Setup:
    """A driver over a filled block range, and how to count the node calls it makes."""

    name: str
    driver: ChainDriver
    start: int
    end: int
    recipients: list[str]
    random_address: Callable[[], str]
    calls: Callable[[], int]


def scan(driver: ChainDriver, start: int, end: int, watched: set[str]) -> int:
    """The watcher's scan: transfers per chunk, recipients matched against the watched set
    (the watcher looks them up in its database the same way); how many matched."""
    matched = 0
    cursor = start
    while cursor <= end:
        chunk_end = min(end, cursor + driver.max_block_range - 1)
        found = driver.scan(cursor, chunk_end, lambda seen: seen & watched).transfers
        matched += sum(1 for t in found if t.to_address in watched)
        cursor = chunk_end + 1
    return matched


def measure(setup: Setup, size: int) -> Measure:
    """Scan the range REPEATS times watching ``size`` addresses (the recipients among them)."""
    watched = set(setup.recipients)
    while len(watched) < size:
        watched.add(setup.random_address())
    times, calls, matched = [], [], 0
    for _ in range(REPEATS):
        before = setup.calls()
        began = time.perf_counter()
        matched = scan(setup.driver, setup.start, setup.end, watched)
        times.append(time.perf_counter() - began)
        calls.append(setup.calls() - before)
    return Measure(size, max(calls), statistics.median(times), matched)


def recipients(driver: ChainDriver, coin: Bip44Coins) -> list[str]:
    """Deposit addresses of a merchant (account 1 of the test mnemonic)."""
    xpub = account_xpub(coin, account=1)
    return [driver.derive_address(xpub, i) for i in range(RECIPIENTS)]


def random_evm_address() -> str:
    """A random checksummed EVM address."""
    return Web3.to_checksum_address(secrets.token_bytes(20))


def random_tron_address() -> str:
    """A random base58 TRON address."""
    return base58.b58encode_check(b"\x41" + secrets.token_bytes(20)).decode()


@contextmanager
def evm_setup() -> Iterator[Setup]:
    """anvil with BLOCKS blocks of USDT traffic; the driver behind a counting proxy."""
    with Devnet.start() as devnet, FaultProxy(devnet.rpc_url) as proxy:
        token = devnet.deploy_token()
        devnet.mint(token, devnet.accounts[1].address, 10**15)
        driver = EvmDriver("bench", {"rpc_url": proxy.url, "chain_id": CHAIN_ID, "token": token})
        paid = recipients(driver, Bip44Coins.ETHEREUM)
        start = driver.tip().number + 1
        for n in range(BLOCKS):
            # automine: each transfer is a block of its own, empty blocks fill the rest
            if n % PAID_EVERY == 0:
                devnet.transfer(token, 1, paid[n % RECIPIENTS], 1_000_000 + n)
            elif n % NOISE_EVERY == 0:
                devnet.transfer(token, 1, random_evm_address(), n)
            else:
                devnet.mine(1)
        yield Setup(
            "EVM (anvil)",
            driver,
            start,
            start + BLOCKS - 1,
            paid,
            random_evm_address,
            lambda: sum(proxy.received.values()),
        )


@contextmanager
def tron_setup() -> Iterator[Setup]:
    """A local TRON node with BLOCKS blocks of USDT traffic."""
    chain = Chain(solid_lag=19)
    chain.mint(TRON_PAYER, 10**15)
    with TronNode(chain) as node:
        driver = TronDriver("bench", {"full_node": node.url, "token": chain.token})
        paid = recipients(driver, Bip44Coins.TRON)
        start = driver.tip().number + 1
        for n in range(BLOCKS):
            if n % PAID_EVERY == 0:
                node.transfer(TRON_PAYER, paid[n % RECIPIENTS], 1_000_000 + n)
            if n % NOISE_EVERY == 0:
                node.transfer(TRON_PAYER, random_tron_address(), n)
            node.produce_block()
        yield Setup(
            "TRON (local node)",
            driver,
            start,
            start + BLOCKS - 1,
            paid,
            random_tron_address,
            lambda: len(node.requests),
        )


def report(setup: Setup) -> tuple[Measure, Measure]:
    """Measure every watched-set size and print the table and the ratios."""
    setup.driver.tip()  # one-time checks (chain id) stay out of the counts
    rows = [measure(setup, size) for size in WATCHED]
    print(
        f"\n{setup.name}: blocks {setup.start}..{setup.end}, "
        f"max_block_range {setup.driver.max_block_range}"
    )
    print(f"{'watched':>9} {'calls':>6} {'seconds':>9} {'blocks/s':>10} {'matched':>8}")
    for row in rows:
        print(
            f"{row.watched:>9,} {row.calls:>6} {row.seconds:>9.4f} "
            f"{BLOCKS / row.seconds:>10,.0f} {row.matched:>8}"
        )
    low, high = rows[0], rows[-1]
    print(f"calls  {high.watched:,} vs {low.watched:,}: {high.calls / low.calls:.2f} (goal <= 1.1)")
    print(f"time   {high.watched:,} vs {low.watched:,}: {high.seconds / low.seconds:.2f}")
    print(f"calls per block: {high.calls / BLOCKS:.2f}")
    return high, low


# what the issue measured before the watcher's head work (the real loop, same method)
BEFORE = {"tron": 7.6, "devnet": 2.7}


def steady_rows() -> list[Row]:
    """The watcher loop at the head of each node, at every number of open orders."""
    rows: list[Row] = []
    print("\nat the head (real Watcher.run, time scaled 20x):")
    for orders in steady.OPEN_ORDERS:
        cost = steady.tron(orders)
        calls = dict(cost.by_method)
        print(f"TRON, {orders:,} open orders: {cost.per_block:.2f} requests/block {calls}")
        rows.append(
            Row(
                f"TRON requests per block at the head, {orders:,} open orders",
                f"{cost.per_block:.2f}",
                f"{BEFORE['tron']} (before)",
                f"{cost.per_block / BEFORE['tron']:.2f}",
                "<= 1.25",
                cost.per_block <= 1.25,
            )
        )
    for orders in steady.OPEN_ORDERS:
        cost = steady.evm(orders)
        idle = cost.idle_calls / max(1, cost.idle_polls)
        per_range = cost.log_calls / max(1, cost.ranges)
        per_poll = sum(cost.by_method.values()) / max(1, cost.polls)
        print(
            f"EVM, {orders:,} open orders: {idle:.2f} calls per idle poll, {per_range:.2f}"
            f" eth_getLogs per new range, {per_poll:.2f} calls per poll {dict(cost.by_method)}"
        )
        rows.append(
            Row(
                f"EVM calls per poll with no new block, {orders:,} open orders",
                f"{idle:.2f}",
                f"{BEFORE['devnet']} per poll (before)",
                f"{idle / BEFORE['devnet']:.2f}",
                "<= 1.2",
                idle <= 1.2,
            )
        )
        rows.append(
            Row(
                f"EVM eth_getLogs per new range, {orders:,} open orders",
                f"{per_range:.2f}",
                "1",
                f"{per_range:.2f}",
                "1",
                per_range <= 1.0,
            )
        )
    return rows


def main() -> None:
    """Run the bench on both chains: catch-up, then the head."""
    began = time.perf_counter()
    rows: list[Row] = []
    for setup in (evm_setup, tron_setup):
        with setup() as ready:
            high, low = report(ready)
            rows.append(
                Row(
                    f"{ready.name}: catch-up calls, {high.watched:,} vs {low.watched:,} watched",
                    str(high.calls),
                    str(low.calls),
                    f"{high.calls / low.calls:.2f}",
                    "<= 1.1",
                    high.calls / low.calls <= 1.1,
                )
            )
    rows += steady_rows()
    save("scan_cost", rows)
    print(f"\ntotal {time.perf_counter() - began:.1f}s")


if __name__ == "__main__":
    main()
