"""TronDriver's send side against the local node: what the conformance kit does not cover."""

from __future__ import annotations

import hashlib
import json

import pytest
from tronpy.keys import PrivateKey

from plugins.base import DriverConfigError, DriverError, RateLimited, Rejected, TxState
from plugins.tron.driver import TronDriver
from tests.drivers.tron_harness import tron_key
from tests.fixtures.tron import PAYER
from tests.tronnode import TronNode, wire

ALICE = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
KEY = tron_key(0)  # PAYER's


@pytest.fixture
def funded(tron_node: TronNode) -> TronNode:
    """The node with PAYER holding 1,000 TRX for fees."""
    tron_node.fund(PAYER, 1_000 * 10**6)
    return tron_node


def make(node: TronNode, **extra: object) -> TronDriver:
    driver = TronDriver("tron", {"full_node": node.url, "token": node.chain.token, **extra})
    driver.backoff_base = 0.01
    return driver


def answer(node: TronNode, body: dict) -> None:
    """Answer the next request with ``body`` (status 200), as a misbehaving node would."""
    node.rate_limit(1, status=200, body=wire.fastjson(body))


@pytest.mark.parametrize(
    ("key", "value"),
    [("fee_limit", 0), ("fee_limit", 16_000_000_000), ("fee_limit", "1"),
     ("expiration_seconds", 59), ("expiration_seconds", 86_400)],
)  # fmt: skip
def test_bad_send_settings_name_the_key(tron_node: TronNode, key: str, value: object) -> None:
    with pytest.raises(DriverConfigError) as caught:
        make(tron_node, **{key: value})
    assert caught.value.key == key


def test_build_gives_the_longer_expiration_and_rehashes(funded: TronNode) -> None:
    driver = make(funded, expiration_seconds=3_600, fee_limit=20_000_000)
    built = driver.build_transfer(PAYER, ALICE, 5, fee_bump=50)
    raw = bytes.fromhex(built.unsigned["raw_data_hex"])
    assert built.fields["expiration"] == built.fields["timestamp"] + 3_600_000
    assert built.unsigned["raw_data"]["expiration"] == built.fields["expiration"]
    assert built.unsigned["txID"] == hashlib.sha256(raw).hexdigest()
    assert built.fields["fee_limit"] == 30_000_000  # 20 TRX raised by half
    assert built.max_fee == 30_000_000 + 345 * 1_000  # energy cap + bandwidth if not free
    # the node takes it: the JSON raw_data re-encodes to the signed bytes
    driver.broadcast(driver.sign(built, KEY))


def test_build_refuses_a_node_that_builds_something_else(funded: TronNode) -> None:
    driver = make(funded)
    other = driver.build_transfer(PAYER, ALICE, 6)
    answer(funded, {"result": {"result": True}, "transaction": other.unsigned})
    with pytest.raises(DriverError, match="another transaction"):
        driver.build_transfer(PAYER, ALICE, 7)


def test_decode_refuses_json_that_differs_from_its_bytes(funded: TronNode) -> None:
    driver = make(funded)
    signed = json.loads(driver.sign(driver.build_transfer(PAYER, ALICE, 8), KEY).raw)
    value = signed["raw_data"]["contract"][0]["parameter"]["value"]
    changes = [
        {**signed, "raw_data": {**signed["raw_data"], "fee_limit": 1}},  # what the node executes
        {**signed, "txID": "00" * 32},
        {**signed, "visible": True},
        {**signed, "signature": signed["signature"] * 2},
        {**signed, "raw_data_hex": signed["raw_data_hex"] + "00"},
    ]
    value["data"] = value["data"][:-2] + "09"
    changes.append(signed)
    for change in changes:
        with pytest.raises(ValueError):
            driver.decode(json.dumps(change))


def test_rebroadcast_of_a_mined_transfer_after_its_expiration(funded: TronNode) -> None:
    driver = make(funded, expiration_seconds=60)
    signed = driver.sign(driver.build_transfer(PAYER, ALICE, 9), KEY)
    driver.broadcast(signed)
    funded.produce_block(30)
    # java-tron checks expiration before duplicates: the node refuses, the driver looks
    driver.broadcast(signed)
    assert driver.transaction_status(signed.tx_hash).state is TxState.MINED


def test_expired_needs_the_solidified_head_past_the_expiration(funded: TronNode) -> None:
    driver = make(funded, expiration_seconds=60)
    signed = driver.sign(driver.build_transfer(PAYER, ALICE, 10), KEY)
    expiration = signed.transfer.fields["expiration"]
    while funded.chain.head().timestamp < expiration:
        funded.produce_block()
    assert funded.chain.head(solid=True).timestamp < expiration
    assert driver.transaction_status(signed.tx_hash, signed.raw).state is TxState.UNKNOWN
    funded.produce_block(3)
    assert driver.transaction_status(signed.tx_hash, signed.raw).state is TxState.EXPIRED
    with pytest.raises(ValueError):  # the raw must be the transaction asked about
        driver.transaction_status("00" * 32, signed.raw)


def test_energy_the_balance_cannot_buy_fails_on_chain(tron_node: TronNode) -> None:
    poor = PrivateKey(hashlib.sha256(b"poor").digest())
    sender = poor.public_key.to_base58check_address()
    tron_node.chain.mint(sender, 10**9)
    tron_node.fund(sender, 2_000_000)  # 2 TRX: less than a transfer's energy
    driver = make(tron_node)
    signed = driver.sign(driver.build_transfer(sender, ALICE, 11), poor.to_bytes())
    driver.broadcast(signed)
    tron_node.produce_block()
    status = driver.transaction_status(signed.tx_hash)
    assert (status.state, status.fee) == (TxState.FAILED, 2_000_000 // 420 * 420)
    assert driver.native_balance(sender) == 2_000_000 - status.fee
    assert driver.balance(sender) == 10**9


def test_broadcast_answers_the_driver_cannot_settle(funded: TronNode) -> None:
    driver = make(funded)
    signed = driver.sign(driver.build_transfer(PAYER, ALICE, 12), KEY)
    busy = {"code": "SERVER_BUSY", "txid": signed.tx_hash, "message": b"Server busy.".hex()}
    answer(funded, busy)  # a full pending queue: the core comes back later
    with pytest.raises(RateLimited):
        driver.broadcast(signed)
    answer(funded, {"code": "OTHER_ERROR", "txid": signed.tx_hash, "message": b"Error: x".hex()})
    with pytest.raises(DriverError) as caught:
        driver.broadcast(signed)
    assert not isinstance(caught.value, Rejected)
    # a backend lagging behind the reference block answers TAPOS_ERROR: not final
    tapos = {"code": "TAPOS_ERROR", "txid": signed.tx_hash, "message": b"Tapos check error.".hex()}
    answer(funded, tapos)
    with pytest.raises(DriverError) as caught:
        driver.broadcast(signed)
    assert not isinstance(caught.value, Rejected)
    driver.broadcast(signed)  # the real node takes it


def test_a_reference_block_reorged_away_is_final(funded: TronNode) -> None:
    funded.produce_block(2)
    driver = make(funded)
    signed = driver.sign(driver.build_transfer(PAYER, ALICE, 13), KEY)
    funded.orphan(2)
    funded.produce_block(2)
    with pytest.raises(Rejected, match="TAPOS_ERROR"):
        driver.broadcast(signed)


def test_native_balance_of_an_account_never_seen_is_zero(tron_node: TronNode) -> None:
    assert make(tron_node).native_balance(ALICE) == 0
    tron_node.fund(ALICE, 7)
    assert make(tron_node).native_balance(ALICE) == 7
