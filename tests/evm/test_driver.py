"""EvmDriver against a real anvil node (and a fault proxy in front of it)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

from devtools.devnet import CHAIN_ID, MNEMONIC, Devnet
from plugins.base import ChainDriver, DriverConfigError, DriverError, RateLimited, Transfer
from plugins.evm.driver import EvmDriver
from tests.support.blocks import block_hash
from tests.support.faultproxy import FaultProxy

MakeDriver = Callable[..., EvmDriver]
USDT = 10**6  # one USDT in base units


def account_xpub(mnemonic: str = MNEMONIC) -> str:
    """The account-level xpub (m/44'/60'/0') a wallet would export for ``mnemonic``."""
    seed = Bip39SeedGenerator(mnemonic).Generate()
    account = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)
    return account.PublicKey().ToExtended()


# -- offline behaviour ---------------------------------------------------------------


def test_is_a_chain_driver(evm_driver: EvmDriver) -> None:
    assert isinstance(evm_driver, ChainDriver)
    assert EvmDriver.family == "evm"


def test_derive_address_standard_vector(evm_driver: EvmDriver, devnet: Devnet) -> None:
    xpub = account_xpub()
    assert evm_driver.derive_address(xpub, 0) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert evm_driver.derive_address(xpub, 1) == devnet.accounts[1].address


def test_normalize_address(evm_driver: EvmDriver) -> None:
    canonical = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert evm_driver.normalize_address(canonical.lower()) == canonical
    assert evm_driver.normalize_address("0x" + canonical[2:].upper()) == canonical
    assert evm_driver.normalize_address(f" {canonical} ") == canonical
    bad_checksum = canonical.replace("f39F", "f39f")
    for bad in (bad_checksum, canonical[:-1], canonical + "0", "0x" + "g" * 40, "", None):
        with pytest.raises(ValueError):
            evm_driver.normalize_address(bad)  # type: ignore[arg-type]


def test_payment_uri_is_eip681(evm_driver: EvmDriver, devnet: Devnet) -> None:
    to = devnet.accounts[2].address
    uri = evm_driver.payment_uri(to.lower(), 12_340_000)
    assert uri == f"ethereum:{devnet.usdt}@{CHAIN_ID}/transfer?address={to}&uint256=12340000"
    with pytest.raises(ValueError):
        evm_driver.payment_uri(to, -1)


def test_tip_counts_confirmations_from_the_head(evm_driver: EvmDriver, devnet: Devnet) -> None:
    devnet.mine(5)
    tip = evm_driver.tip()
    assert evm_driver.confirmations == 3
    assert tip.number == devnet.w3.eth.block_number
    assert tip.confirmed == tip.number - 2  # three blocks, the head's own included
    assert tip.hash == block_hash(evm_driver, tip.number)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"colour": "blue"}, "colour"),
        ({"rpc_url": None}, "rpc_url"),
        ({"rpc_url": "ws://127.0.0.1:8545"}, "rpc_url"),
        ({"chain_id": "1"}, "chain_id"),
        ({"token": "0xdAC17F958D2ee523a2206206994597C13D831Ec7"}, "token"),
        ({"confirmations": 0}, "confirmations"),
        ({"confirmations": True}, "confirmations"),
        ({"max_block_range": 0}, "max_block_range"),
        ({"decimals": 6.0}, "decimals"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_settings_name_the_key(make_evm_driver: MakeDriver, override: dict, key: str) -> None:
    with pytest.raises(DriverConfigError) as caught:
        make_evm_driver(**override)
    assert caught.value.key == key


def test_settings_defaults_and_core_keys(make_evm_driver: MakeDriver, devnet: Devnet) -> None:
    driver = make_evm_driver(
        driver="evm", enabled=True, confirmations=12, token=devnet.usdt.lower()
    )
    assert driver.token_address() == devnet.usdt
    assert driver.max_block_range == 2000
    assert driver.settings.timeout == 10.0


# -- reading the chain ---------------------------------------------------------------


def test_decimals_read_from_contract(make_evm_driver: MakeDriver) -> None:
    assert make_evm_driver().decimals() == 6
    assert make_evm_driver(decimals=6).decimals() == 6


def test_configured_decimals_must_match_contract(make_evm_driver: MakeDriver) -> None:
    with pytest.raises(DriverConfigError) as caught:
        make_evm_driver(decimals=18).decimals()
    assert caught.value.key == "decimals"


def test_wrong_chain_id_is_refused(make_evm_driver: MakeDriver) -> None:
    with pytest.raises(DriverError, match="chain 31337"):
        make_evm_driver(chain_id=1).tip()


def test_transfers_in_range(evm_driver: EvmDriver, devnet: Devnet) -> None:
    alice, bob, carol = (devnet.accounts[i].address for i in (1, 2, 3))
    start = devnet.w3.eth.block_number + 1
    mint = devnet.mint(devnet.usdt, alice, 100 * USDT)
    pay_bob = devnet.transfer(devnet.usdt, 1, bob, 12_500_000)
    pay_carol = devnet.transfer(devnet.usdt, 1, carol, 1)
    devnet.mine(3)
    head = evm_driver.tip().number

    found = evm_driver.scan(start, head).transfers

    assert [(t.tx_hash, t.from_address, t.to_address, t.amount) for t in found] == [
        (mint, "0x0000000000000000000000000000000000000000", alice, 100 * USDT),
        (pay_bob, alice, bob, 12_500_000),
        (pay_carol, alice, carol, 1),
    ]
    assert [t.block_number for t in found] == [start, start + 1, start + 2]
    for transfer in found:
        assert transfer.block_hash == block_hash(evm_driver, transfer.block_number)
        assert transfer.block_hash.startswith("0x") and transfer.block_hash.islower()
        assert isinstance(transfer.amount, int)
    assert evm_driver.scan(head, head).transfers == []


def test_block_hash_of_future_block_is_none(evm_driver: EvmDriver) -> None:
    assert block_hash(evm_driver, evm_driver.tip().number + 1000) is None


def test_fee_makes_two_logs_both_reported(evm_driver: EvmDriver, devnet: Devnet) -> None:
    owner, alice, bob = (devnet.accounts[i].address for i in (0, 1, 2))
    devnet.mint(devnet.usdt, alice, 10 * USDT)
    devnet.set_fee(devnet.usdt, 20)  # 0.2 %
    tx = devnet.transfer(devnet.usdt, 1, bob, 5 * USDT)
    block = devnet.w3.eth.block_number

    found = evm_driver.scan(block, block).transfers

    assert found == [
        Transfer(tx, 0, block, found[0].block_hash, alice, bob, 4_990_000, found[0].timestamp),
        Transfer(tx, 1, block, found[0].block_hash, alice, owner, 10_000, found[0].timestamp),
    ]
    assert devnet.balance(devnet.usdt, bob) == 4_990_000


def test_other_tokens_are_not_reported(evm_driver: EvmDriver, devnet: Devnet) -> None:
    start = devnet.w3.eth.block_number + 1
    other = devnet.deploy_token()
    devnet.mint(other, devnet.accounts[1].address, 7 * USDT)
    devnet.transfer(other, 1, devnet.accounts[2].address, 7 * USDT)
    mine = devnet.mint(devnet.usdt, devnet.accounts[2].address, 3 * USDT)

    found = evm_driver.scan(start, evm_driver.tip().number).transfers

    assert [(t.tx_hash, t.amount) for t in found] == [(mine, 3 * USDT)]


def test_reorg_changes_block_hash(evm_driver: EvmDriver, devnet: Devnet) -> None:
    before = devnet.snapshot()
    devnet.transfer(devnet.usdt, 0, devnet.accounts[4].address, 0)
    number = devnet.w3.eth.block_number
    devnet.mine(2)
    old_hash = block_hash(evm_driver, number)
    old_transfers = evm_driver.scan(number, number).transfers

    assert devnet.revert(before)
    replacement = devnet.mint(devnet.usdt, devnet.accounts[5].address, 9)
    devnet.mine(2)

    assert devnet.w3.eth.block_number >= number
    assert block_hash(evm_driver, number) not in (None, old_hash)
    new_transfers = evm_driver.scan(number, number).transfers
    assert [t.tx_hash for t in new_transfers] == [replacement]
    assert new_transfers != old_transfers


# -- provider trouble ----------------------------------------------------------------


def test_wide_ranges_are_split_and_nothing_is_lost(
    make_evm_driver: MakeDriver, devnet: Devnet, evm_proxy: FaultProxy
) -> None:
    start = devnet.w3.eth.block_number + 1
    txs = []
    for i in range(4):
        txs.append(devnet.mint(devnet.usdt, devnet.accounts[1].address, i + 1))
        devnet.mine(7)
    end = start + 31
    devnet.mine(max(0, end - devnet.w3.eth.block_number))
    driver = make_evm_driver(rpc_url=evm_proxy.url)
    driver.tip()  # the one-time chain id check, outside the counts below
    evm_proxy.reset()
    evm_proxy.refuse_log_ranges_wider_than(8)

    found = driver.scan(start, end).transfers

    assert [t.tx_hash for t in found] == txs
    assert [t.amount for t in found] == [1, 2, 3, 4]
    # 32 refused, 2 x 16 refused, 4 x 8 answered
    assert evm_proxy.received["eth_getLogs"] == 7
    assert evm_proxy.forwarded["eth_getLogs"] == 4
    assert driver.max_block_range == 8

    evm_proxy.reset()
    evm_proxy.refuse_log_ranges_wider_than(8)
    assert driver.scan(start, end).transfers == found
    assert evm_proxy.received["eth_getLogs"] == 4  # the hint is remembered


def test_one_block_refused_is_an_error(make_evm_driver: MakeDriver, evm_proxy: FaultProxy) -> None:
    driver = make_evm_driver(rpc_url=evm_proxy.url)
    evm_proxy.refuse_log_ranges_wider_than(0)
    with pytest.raises(DriverError, match="refused"):
        driver.scan(1, 4)


def test_429_then_success(make_evm_driver: MakeDriver, evm_proxy: FaultProxy) -> None:
    driver = make_evm_driver(rpc_url=evm_proxy.url)
    driver.tip()
    evm_proxy.reset()
    evm_proxy.rate_limit(1, retry_after="0")

    assert driver.tip().number > 0
    assert evm_proxy.received["eth_getBlockByNumber"] == 2
    assert evm_proxy.forwarded["eth_getBlockByNumber"] == 1


@pytest.mark.parametrize("status", [429, 503])
def test_persistent_rate_limit_raises(
    make_evm_driver: MakeDriver, evm_proxy: FaultProxy, status: int
) -> None:
    driver = make_evm_driver(rpc_url=evm_proxy.url)
    driver.tip()
    evm_proxy.reset()
    if status == 429:
        evm_proxy.rate_limit(100, retry_after="0")
    else:
        evm_proxy.unavailable(100)

    with pytest.raises(RateLimited):
        driver.scan(1, 2)
    assert evm_proxy.received["eth_getLogs"] == 3  # two quick retries, then give up
    assert evm_proxy.forwarded["eth_getLogs"] == 0


def test_long_retry_after_is_passed_on(make_evm_driver: MakeDriver, evm_proxy: FaultProxy) -> None:
    driver = make_evm_driver(rpc_url=evm_proxy.url)
    evm_proxy.rate_limit(1, retry_after="30")

    with pytest.raises(RateLimited) as caught:
        driver.tip()
    assert caught.value.retry_after == 30
    assert sum(evm_proxy.received.values()) == 1  # no point retrying within 30 s


def test_timeout_is_a_driver_error(make_evm_driver: MakeDriver, evm_proxy: FaultProxy) -> None:
    driver = make_evm_driver(rpc_url=evm_proxy.url, timeout=0.3)
    evm_proxy.hang(1)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            driver.tip()
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(timeout=10)  # the driver's own timeout must end it well before this
    evm_proxy.release()
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], DriverError)
    assert "0.3" in str(outcome[0])


def test_unreachable_node_is_a_driver_error(make_evm_driver: MakeDriver) -> None:
    with FaultProxy("http://127.0.0.1:9") as proxy:
        url = proxy.url
    driver = make_evm_driver(rpc_url=url)  # nothing listens there any more
    with pytest.raises(DriverError):
        driver.tip()
