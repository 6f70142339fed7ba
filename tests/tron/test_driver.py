"""TronDriver through tronpy against the local TRON node."""

from __future__ import annotations

import threading

import pytest

from plugins.base import ChainDriver, DriverConfigError, DriverError, RateLimited
from plugins.tron.driver import TronDriver
from tests.fixtures.tron import PAYER
from tests.support.blocks import block_hash
from tests.tronnode import TronNode

# m/44'/195'/0' of "test test test test test test test test test test test junk"
TEST_XPUB = (
    "xpub6BuRy7ZmkGfP2RWhoor1kWB1w9DvrtmJbFBvnC1bQ4SB5NbCHTyQYCJSXZtxDbFyHTmC7wkU2he3nYYdpZ3Vf6qU"
    "AkXSnL6RPif4BDtDEKr"
)
ALICE = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # any valid address can receive tokens
BOB = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"


def settings(node: TronNode, **extra: object) -> dict[str, object]:
    return {"full_node": node.url, "token": node.chain.token, **extra}


def test_is_a_chain_driver(tron_driver: TronDriver) -> None:
    assert isinstance(tron_driver, ChainDriver)
    assert tron_driver.family == "tron"


def test_derive_vector(tron_driver: TronDriver) -> None:
    assert tron_driver.derive_address(TEST_XPUB, 0) == "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6"
    other = tron_driver.derive_address(TEST_XPUB, 1)
    assert other.startswith("T") and other != PAYER
    assert tron_driver.normalize_address(other) == other


def test_normalize_accepts_base58_and_41_hex(tron_driver: TronDriver) -> None:
    hex_form = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
    assert tron_driver.normalize_address(hex_form) == ALICE
    assert tron_driver.normalize_address(hex_form.upper().replace("X", "x")) == ALICE
    assert tron_driver.normalize_address(f" {ALICE} ") == ALICE


@pytest.mark.parametrize(
    "bad",
    [
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u",  # checksum
        "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c",  # EVM form
        "42a614f803b6fd780986a42c78ec9c7f77e6ded13c",  # wrong prefix
        "41a614f803b6fd780986a42c78ec9c7f77e6ded1zz",
        "",
    ],
)
def test_normalize_rejects(tron_driver: TronDriver, bad: str) -> None:
    with pytest.raises(ValueError):
        tron_driver.normalize_address(bad)


def test_payment_uri_is_decimal(tron_driver: TronDriver) -> None:
    uri = tron_driver.payment_uri(ALICE, 12_340_000)
    assert uri == f"tron:{ALICE}?token={tron_driver.token_address()}&amount=12.34"
    assert tron_driver.payment_uri(ALICE, 1).endswith("amount=0.000001")
    assert tron_driver.payment_uri(ALICE, 5_000_000).endswith("amount=5")


def test_decimals_read_once(tron_node: TronNode, tron_driver: TronDriver) -> None:
    assert tron_driver.decimals() == 6
    assert tron_driver.decimals() == 6
    assert tron_node.count("/wallet/triggerconstantcontract") == 1


def test_decimals_from_settings_skip_the_node(tron_node: TronNode) -> None:
    driver = TronDriver("tron", settings(tron_node, decimals=6))
    assert driver.decimals() == 6
    assert tron_node.count("/wallet/triggerconstantcontract") == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("full_node", "ftp://node"),
        ("token", "TXYZ"),
        ("confirmations", 0),
        ("confirmations", True),
        ("max_block_range", "20"),
        ("decimals", -1),
        ("timeout", 0),
        ("api_key", ""),
        ("surprise", 1),
    ],
)
def test_bad_settings_name_the_key(tron_node: TronNode, key: str, value: object) -> None:
    with pytest.raises(DriverConfigError) as info:
        TronDriver("tron", settings(tron_node, **{key: value}))
    assert info.value.key == key


def test_transfers_in_range(tron_node: TronNode, tron_driver: TronDriver) -> None:
    chain = tron_node.chain
    first = tron_node.transfer(PAYER, ALICE, 1_500_000)
    tron_node.transfer(PAYER, ALICE, 7, fail=True)  # reverted: fee burnt, no log
    tron_node.transfer(PAYER, ALICE, 9_000_000, token=chain.other_token)  # another token
    tron_node.produce_block()
    tron_node.produce_block()  # empty
    second = tron_node.transfer(PAYER, BOB, 2_000_000)
    third = tron_node.transfer(PAYER, ALICE, 3)
    tron_node.produce_block()
    tron_node.clear_requests()

    found = tron_driver.scan(1, 3).transfers

    block1, block3 = chain.block(1).block_id, chain.block(3).block_id
    assert [(t.tx_hash, t.log_index, t.block_number, t.block_hash) for t in found] == [
        (first, 0, 1, block1),
        (second, 0, 3, block3),
        (third, 0, 3, block3),
    ]
    assert [(t.from_address, t.to_address, t.amount) for t in found] == [
        (PAYER, ALICE, 1_500_000),
        (PAYER, BOB, 2_000_000),
        (PAYER, ALICE, 3),
    ]
    assert found[0].timestamp == chain.block(1).timestamp // 1000
    # one request for every header of the range, whatever its length
    assert tron_node.count("/wallet/getblockbylimitnext") == 1
    # one receipts request per block with transactions; the empty block's header proves it
    assert tron_node.count("/wallet/gettransactioninfobyblocknum") == 2
    assert tron_node.count("/wallet/getblockbynum") == 0


def test_overdrawn_transfer_is_not_reported(tron_node: TronNode, tron_driver: TronDriver) -> None:
    tron_node.transfer(ALICE, BOB, 1)  # ALICE holds nothing: the contract reverts
    tron_node.produce_block()
    assert tron_driver.scan(1, 1).transfers == []


def test_confirmed_head_follows_solidification(
    tron_node: TronNode, tron_driver: TronDriver
) -> None:
    tron_node.produce_block(10)  # solidification trails by 3
    head = tron_driver.tip().number
    assert head == 10
    assert tron_driver.tip().confirmed == 7
    tron_node.chain.set_solid_lag(0)
    # solid at the head, but the confirmations floor (2) still holds one block back
    assert tron_driver.tip().confirmed == 9


def test_orphaned_block_changes_hash(tron_node: TronNode, tron_driver: TronDriver) -> None:
    tx = tron_node.transfer(PAYER, ALICE, 5)
    tron_node.produce_block(3)
    before = block_hash(tron_driver, 1)
    assert tron_driver.scan(1, 1).transfers[0].block_hash == before

    tron_node.orphan(1, requeue=True)
    assert block_hash(tron_driver, 1) is None
    with pytest.raises(DriverError):  # a missing block is never reported as empty
        tron_driver.scan(1, 1)
    tron_node.produce_block()  # the transfer comes back in a different block 1
    moved = block_hash(tron_driver, 1)
    assert moved is not None and moved != before
    assert [(t.tx_hash, t.block_hash) for t in tron_driver.scan(1, 1).transfers] == [(tx, moved)]

    tron_node.orphan(1)  # this time the transaction is lost with its block
    tron_node.produce_block()
    assert block_hash(tron_driver, 1) not in (None, before, moved)
    assert tron_driver.scan(1, 1).transfers == []


def test_solidified_blocks_cannot_be_orphaned(tron_node: TronNode) -> None:
    tron_node.produce_block(5)
    with pytest.raises(ValueError):
        tron_node.orphan(2)


def test_rate_limits_survived_with_backoff(tron_node: TronNode, tron_driver: TronDriver) -> None:
    tron_node.produce_block(2)
    tron_node.rate_limit(2, status=429)
    assert tron_driver.tip().number == 2
    tron_node.rate_limit(1, status=503)
    tron_node.overload(1)  # java-tron's own limiter answers 200 with an Error body
    assert block_hash(tron_driver, 1) == tron_node.chain.block(1).block_id
    assert tron_node.count("/wallet/getnodeinfo") == 3


def test_persistent_rate_limit_raises(tron_node: TronNode, tron_driver: TronDriver) -> None:
    tron_node.produce_block(2)
    tron_node.rate_limit(50, status=429)
    with pytest.raises(RateLimited):
        tron_driver.scan(1, 2)
    # the range starts with its headers: 1 try + 3 retries, then it gives up
    assert tron_node.count("/wallet/getblockbylimitnext") == 4
    assert tron_node.count("/wallet/gettransactioninfobyblocknum") == 0


def test_long_retry_after_is_handed_to_the_watcher(
    tron_node: TronNode, tron_driver: TronDriver
) -> None:
    tron_node.rate_limit(1, status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        tron_driver.tip()
    assert info.value.retry_after == 30
    assert tron_node.count("/wallet/getnodeinfo") == 1


def test_quota_403_is_rate_limited(tron_node: TronNode, tron_driver: TronDriver) -> None:
    tron_node.rate_limit(10, status=403)
    with pytest.raises(RateLimited):
        tron_driver.tip()


def test_timeouts_retry_then_fail(tron_node: TronNode) -> None:
    driver = TronDriver("tron", settings(tron_node, timeout=0.2))
    driver.backoff_base = 0.01
    tron_node.stall(1, 0.6)
    assert driver.tip().number == 0  # the second attempt answers
    tron_node.stall(10, 0.6)
    with pytest.raises(DriverError):
        driver.tip()


def test_node_error_body_is_a_driver_error(tron_driver: TronDriver) -> None:
    with pytest.raises(DriverError):
        tron_driver._call("wallet/getblockbynum", {"num": "x"})


def test_api_key_not_sent_to_other_hosts(tron_node: TronNode) -> None:
    secret = "11111111-2222-3333-4444-555555555555"
    # "trongrid" in the path must not fool the host check (tronpy checks the substring)
    driver = TronDriver("tron", settings(tron_node, api_key=secret))
    driver.backoff_base = 0.01
    proxied = TronDriver(
        "tron",
        {
            "full_node": tron_node.url + "trongrid/",
            "token": tron_node.chain.token,
            "api_key": secret,
        },
    )
    driver.tip()
    proxied.client.provider.make_request("wallet/getnodeinfo")
    tron_node.rate_limit(10, status=429)
    with pytest.raises(RateLimited) as info:
        driver.tip()
    for request in tron_node.requests:
        assert not any(k.lower() == "tron-pro-api-key" for k in request.headers)
        assert secret not in str(request.headers)
    assert secret not in str(info.value) and secret not in repr(driver)


def test_api_key_kept_for_trongrid() -> None:
    driver = TronDriver(
        "tron",
        {
            "full_node": "https://api.trongrid.io",
            "token": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            "api_key": "k",
        },
    )
    assert driver.client.provider.use_api_key
    assert driver.client.provider.random_api_key == "k"
    keyless = TronDriver(
        "tron",
        {"full_node": "https://nile.trongrid.io", "token": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"},
    )
    assert not keyless.client.provider.use_api_key  # tronpy's shared keys stay unused


def test_concurrent_scans_share_the_node(tron_node: TronNode, tron_driver: TronDriver) -> None:
    for _ in range(5):
        tron_node.transfer(PAYER, ALICE, 1)
        tron_node.produce_block()
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(len(tron_driver.scan(1, 5).transfers)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == [5, 5, 5, 5]
