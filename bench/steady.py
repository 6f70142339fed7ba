"""What a caught-up watcher costs at the chain head: node requests per block and per poll.

The real ``Watcher.run`` loop follows each local node while a thread produces blocks on a
timer, for a fixed number of blocks, with 10, 1,000 and 100,000 open orders in the
database. Time is scaled down 20 times, keeping each chain's ratio of block time to poll
interval: TRON 3 s blocks and its 36 s default look, Ethereum 12 s blocks and the 2 s
default poll. Every TRON block carries transactions (mainnet blocks always do) and one
block in twenty pays a watched address, so confirmations are counted too. Requests are
counted by the TRON node's log and by a proxy in front of anvil (a JSON-RPC batch counts
each call in it).
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import base58
import sqlalchemy as sa
from bip_utils import Bip44Coins
from sqlalchemy.orm import sessionmaker
from web3 import Web3

from devtools.devnet import CHAIN_ID, Devnet
from gateway.cli import migrate
from gateway.core.db import make_engine
from gateway.core.models import HdAccount, Merchant, Order, utcnow
from gateway.core.watcher import Watcher
from plugins.base import ChainDriver
from plugins.evm.driver import EvmDriver
from plugins.hd import account_key_id
from plugins.tron.driver import TronDriver
from tests.support.faultproxy import FaultProxy
from tests.support.keys import account_xpub
from tests.tronnode import Chain, TronNode

SCALE = 20
OPEN_ORDERS = (10, 1_000, 100_000)
PAID_EVERY = 20  # one block in twenty pays a watched address
TRON_BLOCK, TRON_POLL, TRON_BLOCKS = 3.0 / SCALE, 36.0 / SCALE, 120
EVM_BLOCK, EVM_POLL, EVM_BLOCKS = 12.0 / SCALE, 2.0 / SCALE, 40
TRON_PAYER = "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6"  # index 0 of the test mnemonic


@dataclass
class Cost:
    """What the watcher asked while ``blocks`` blocks were produced."""

    chain: str
    open_orders: int
    blocks: int
    by_method: Counter[str]
    polls: int = 0
    idle_polls: int = 0
    idle_calls: int = 0
    ranges: int = 0
    log_calls: int = 0
    paid: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def per_block(self) -> float:
        return sum(self.by_method.values()) / self.blocks


def database(chain: str, driver: ChainDriver, coin: Bip44Coins, orders: int) -> sessionmaker:
    """A migrated SQLite database with ``orders`` open orders; the first ten are payable."""
    path = Path(tempfile.mkdtemp()) / "steady.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    xpub = account_xpub(coin, account=1)
    with engine.begin() as conn:
        merchant = conn.execute(
            sa.insert(Merchant).values(name="bench").returning(Merchant.id)
        ).scalar_one()
        account = conn.execute(
            sa.insert(HdAccount)
            .values(
                merchant_id=merchant, family=driver.family, xpub=xpub, key_id=account_key_id(xpub)
            )
            .returning(HdAccount.id)
        ).scalar_one()
        expires = utcnow() + timedelta(days=1)
        rows = [
            {
                "merchant_id": merchant,
                "chain": chain,
                "reference": f"r{i}",
                "amount": 10**9,
                "decimals": 6,
                "token": driver.token_address(),
                "address": driver.derive_address(xpub, i) if i < 10 else random_address(chain),
                "payment_uri": "bench:",
                "hd_account_id": account,
                "hd_index": i,
                "expires_at": expires,
            }
            for i in range(orders)
        ]
        conn.execute(sa.insert(Order), rows)
    return sessionmaker(engine, expire_on_commit=False)


def random_address(chain: str) -> str:
    """Somebody's address on ``chain``: nobody watches it."""
    if chain == "tron":
        return base58.b58encode_check(b"\x41" + secrets.token_bytes(20)).decode()
    return Web3.to_checksum_address(secrets.token_bytes(20))


def follow(
    chain: str,
    driver: ChainDriver,
    sessions: sessionmaker,
    produce: Callable[[int], None],
    calls: Callable[[], Counter[str]],
    block_time: float,
    poll: float,
    blocks: int,
    orders: int,
) -> Cost:
    """Run the watcher loop while ``blocks`` blocks come every ``block_time`` seconds."""
    watcher = Watcher(chain, driver, sessions, grace=timedelta(hours=1), owner="bench")
    while not watcher.step().caught_up:
        pass
    cost = Cost(chain, orders, blocks, Counter())
    real_step = watcher.step

    def step():  # observe each poll of the real loop without changing it
        before = sum(calls().values()), calls().get("eth_getLogs", 0)
        result = real_step()
        spent = sum(calls().values()) - before[0]
        cost.polls += 1
        if result.blocks:
            cost.ranges += 1
            cost.log_calls += calls().get("eth_getLogs", 0) - before[1]
        else:
            cost.idle_polls += 1
            cost.idle_calls += spent
        return result

    watcher.step = step  # type: ignore[method-assign]
    baseline = Counter(calls())
    stop = threading.Event()
    loop = threading.Thread(target=watcher.run, args=(stop, poll), daemon=True)
    loop.start()
    began = time.monotonic()
    for n in range(blocks):
        produce(n)
        # blocks on a fixed timer, whatever producing one took
        time.sleep(max(0.0, began + (n + 1) * block_time - time.monotonic()))
    time.sleep(poll * 1.5)  # the last block gets its look
    stop.set()
    loop.join(timeout=30)
    cost.by_method = Counter(calls()) - baseline
    sessions.kw["bind"].dispose()
    return cost


def tron(orders: int) -> Cost:
    """The TRON driver at its default look, the local node producing busy blocks."""
    node_chain = Chain(solid_lag=19)
    node_chain.mint(TRON_PAYER, 10**15)
    with TronNode(node_chain) as node:
        node.produce_block(30)
        driver = TronDriver(
            "tron", {"full_node": node.url, "token": node_chain.token, "poll_interval": TRON_POLL}
        )
        sessions = database("tron", driver, Bip44Coins.TRON, orders)
        paid = [
            driver.derive_address(account_xpub(Bip44Coins.TRON, account=1), i) for i in range(10)
        ]

        def produce(n: int) -> None:
            node.transfer(TRON_PAYER, random_address("tron"), 1 + n)  # never an empty block
            if n % PAID_EVERY == 0:
                node.transfer(TRON_PAYER, paid[n % 10], 1_000_000)
            node.produce_block()

        def calls() -> Counter[str]:
            return Counter(r.path.rsplit("/", 1)[-1] for r in list(node.requests))

        return follow(
            "tron", driver, sessions, produce, calls, TRON_BLOCK, TRON_POLL, TRON_BLOCKS, orders
        )


def evm(orders: int) -> Cost:
    """The EVM driver at the default poll, anvil mining on a timer."""
    with Devnet.start() as devnet, FaultProxy(devnet.rpc_url) as proxy:
        token = devnet.deploy_token()
        devnet.mint(token, devnet.accounts[1].address, 10**15)
        devnet.mine(10)
        driver = EvmDriver(
            "devnet",
            {"rpc_url": proxy.url, "chain_id": CHAIN_ID, "token": token, "confirmations": 3},
        )
        sessions = database("devnet", driver, Bip44Coins.ETHEREUM, orders)
        xpub = account_xpub(Bip44Coins.ETHEREUM, account=1)
        paid = [driver.derive_address(xpub, i) for i in range(10)]

        def produce(n: int) -> None:
            if n % PAID_EVERY == 0:
                devnet.transfer(token, 1, paid[n % 10], 1_000_000)  # automine: its own block
            else:
                devnet.mine(1)

        return follow(
            "devnet",
            driver,
            sessions,
            produce,
            lambda: proxy.received,
            EVM_BLOCK,
            EVM_POLL,
            EVM_BLOCKS,
            orders,
        )
