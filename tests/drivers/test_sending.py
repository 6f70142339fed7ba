"""The send side of the conformance suite: payouts every chain driver builds, signs, decodes,
broadcasts and follows the same way (see test_conformance.py for how to run it for yours).

The core keeps the keys; a test hands the driver one for a single ``sign`` call, as the core
does. Tests a chain cannot have (no nonces, no expiry) are skipped with the reason.
"""

from __future__ import annotations

import json

import pytest

from plugins.base import ChainDriver, Outgoing, Rejected, Signed, TxState
from tests.drivers.harnesses import DriverHarness
from tests.support.blocks import block_hash


def send(harness: DriverHarness, driver: ChainDriver, to: str, amount: int) -> Signed:
    """Build, sign and broadcast a transfer from the payer (not yet mined)."""
    signed = driver.sign(driver.build_transfer(harness.payer, to, amount), harness.payer_key)
    driver.broadcast(signed)
    return signed


def transfers_of(driver: ChainDriver, tx_hash: str, number: int) -> list[tuple[str, str, int]]:
    """(from, to, amount) of every token transfer ``tx_hash`` made in block ``number``."""
    found = driver.scan(number, number).transfers
    return [(t.from_address, t.to_address, t.amount) for t in found if t.tx_hash == tx_hash]


def test_keys_give_their_address(harness: DriverHarness, driver: ChainDriver) -> None:
    assert driver.address_of_key(harness.payer_key) == harness.payer
    with pytest.raises(ValueError):
        driver.address_of_key(b"\0" * 32)


def test_a_payout_moves_exactly_its_amount_and_costs_its_fee(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    to = harness.recipient(4)
    before = (driver.balance(harness.payer), driver.balance(to))
    native = driver.native_balance(harness.payer)

    built = driver.build_transfer(harness.payer, to, 1_234_567)
    signed = driver.sign(built, harness.payer_key)
    driver.broadcast(signed)
    harness.mine()
    status = driver.transaction_status(signed.tx_hash)

    assert (built.sender, built.to, built.amount) == (harness.payer, to, 1_234_567)
    assert built.token == driver.token_address()
    assert status.state is TxState.MINED
    assert status.block_hash == block_hash(driver, status.block_number)
    assert type(status.fee) is int and 0 < status.fee <= built.max_fee
    assert driver.native_balance(harness.payer) == native - status.fee
    assert (driver.balance(harness.payer), driver.balance(to)) == (
        before[0] - 1_234_567,
        before[1] + 1_234_567,
    )
    scanned = transfers_of(driver, signed.tx_hash, status.block_number)
    assert scanned == [(harness.payer, to, 1_234_567)]


def test_built_transfers_are_json_safe(harness: DriverHarness, driver: ChainDriver) -> None:
    built = driver.build_transfer(harness.payer, harness.recipient(0), 5)
    # the core stores them and an offline signer reads them
    assert json.loads(json.dumps(built.fields)) == built.fields
    assert json.loads(json.dumps(built.unsigned)) == built.unsigned
    assert type(built.max_fee) is int and built.max_fee > 0
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            driver.build_transfer(harness.payer, harness.recipient(0), bad)  # type: ignore[arg-type]


def test_decode_gives_back_what_was_signed(harness: DriverHarness, driver: ChainDriver) -> None:
    built = driver.build_transfer(harness.payer, harness.recipient(1), 42)
    signed = driver.sign(built, harness.payer_key)

    decoded = driver.decode(signed.raw)

    assert decoded == signed
    assert decoded.transfer == built
    assert driver.decode(decoded.raw) == decoded


def test_only_the_senders_key_signs(harness: DriverHarness, driver: ChainDriver) -> None:
    built = driver.build_transfer(harness.payer, harness.recipient(1), 42)
    with pytest.raises(ValueError):
        driver.sign(built, harness.poor_sender())


def test_decode_refuses_another_token_or_function(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    to = harness.recipient(2)
    other = harness.make_driver(token=harness.other_token())
    foreign = other.sign(other.build_transfer(harness.payer, to, 7), harness.payer_key)
    with pytest.raises(ValueError):
        driver.decode(foreign.raw)
    with pytest.raises(ValueError):
        driver.decode(harness.sign_other_call(harness.payer_key, to, 7))
    for garbage in ("", "0x", "{}", "[]", "not a transaction", "0x02c0"):
        with pytest.raises(ValueError):
            driver.decode(garbage)


@pytest.mark.parametrize("what", ["amount", "recipient", "signature"])
def test_decode_never_credits_the_signer_with_tampered_bytes(
    harness: DriverHarness, driver: ChainDriver, what: str
) -> None:
    signed = driver.sign(
        driver.build_transfer(harness.payer, harness.recipient(3), 1_000), harness.payer_key
    )
    tampered = harness.tamper(signed.raw, what)
    try:
        decoded = driver.decode(tampered)
    except ValueError:
        return
    # an EVM signature over other bytes recovers some other address: never the payer's
    assert not harness.names_its_sender, "tampered bytes must be refused"
    assert decoded.transfer.sender != harness.payer
    assert decoded.tx_hash != signed.tx_hash


def test_broadcasting_twice_sends_once(harness: DriverHarness, driver: ChainDriver) -> None:
    to = harness.recipient(5)
    before = driver.balance(to)
    signed = send(harness, driver, to, 300)
    driver.broadcast(signed)  # the retry of a core that lost the first answer
    harness.mine()
    driver.broadcast(signed)  # and once more after it is in a block

    status = driver.transaction_status(signed.tx_hash)
    assert status.state is TxState.MINED
    assert driver.balance(to) == before + 300
    assert transfers_of(driver, signed.tx_hash, status.block_number) == [(harness.payer, to, 300)]


def test_a_transfer_the_sender_cannot_afford(harness: DriverHarness, driver: ChainDriver) -> None:
    key = harness.poor_sender()
    sender, to = driver.address_of_key(key), harness.recipient(6)
    tokens = driver.balance(sender), driver.balance(to)
    signed = driver.sign(driver.build_transfer(sender, to, 1), key)

    if harness.poor_outcome == "rejected":
        with pytest.raises(Rejected):
            driver.broadcast(signed)
        harness.mine()
        assert driver.transaction_status(signed.tx_hash).state is TxState.UNKNOWN
    else:
        driver.broadcast(signed)
        harness.mine()
        status = driver.transaction_status(signed.tx_hash)
        assert status.state is TxState.FAILED
        assert status.block_hash == block_hash(driver, status.block_number)
        assert status.fee > 0
        assert transfers_of(driver, signed.tx_hash, status.block_number) == []
    assert (driver.balance(sender), driver.balance(to)) == tokens


def test_an_unknown_hash_is_unknown(harness: DriverHarness, driver: ChainDriver) -> None:
    assert driver.transaction_status(harness.random_tx_hash()).state is TxState.UNKNOWN


def test_a_sent_transfer_is_pending_until_mined(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    with harness.holding_blocks():
        signed = send(harness, driver, harness.recipient(7), 9)
        assert driver.transaction_status(signed.tx_hash).state is TxState.PENDING
        assert driver.transaction_status(signed.tx_hash, signed.raw).state is TxState.PENDING
        harness.mine()
    assert driver.transaction_status(signed.tx_hash).state is TxState.MINED


def test_a_fee_bump_with_the_same_nonce_replaces(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    if not harness.has_nonces:
        pytest.skip(f"{harness.kind} has no nonces: a stuck transfer expires instead")
    to = harness.recipient(8)
    before = driver.balance(to)
    with harness.holding_blocks():
        first = driver.sign(driver.build_transfer(harness.payer, to, 10), harness.payer_key)
        driver.broadcast(first)
        nonce = first.transfer.fields["nonce"]
        bumped: Outgoing = driver.build_transfer(harness.payer, to, 10, nonce=nonce, fee_bump=10)
        assert bumped.fields["nonce"] == nonce
        assert bumped.fields["max_fee_per_gas"] > first.transfer.fields["max_fee_per_gas"]
        second = driver.sign(bumped, harness.payer_key)
        driver.broadcast(second)
        harness.mine()
    assert driver.transaction_status(second.tx_hash).state is TxState.MINED
    assert driver.transaction_status(first.tx_hash).state is TxState.UNKNOWN
    assert driver.balance(to) == before + 10
    with pytest.raises(Rejected):  # its nonce is spent
        driver.broadcast(first)


def test_an_expired_transfer_is_expired_and_refused(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    if not harness.expires:
        pytest.skip(f"{harness.kind} transactions never expire: a same-nonce one replaces")
    signed = driver.sign(
        driver.build_transfer(harness.payer, harness.recipient(9), 11), harness.payer_key
    )
    assert driver.transaction_status(signed.tx_hash, signed.raw).state is TxState.UNKNOWN

    harness.expire(signed.transfer.fields["expiration"])

    assert driver.transaction_status(signed.tx_hash, signed.raw).state is TxState.EXPIRED
    assert driver.transaction_status(signed.tx_hash).state is TxState.UNKNOWN  # without raw
    with pytest.raises(Rejected):
        driver.broadcast(signed)
