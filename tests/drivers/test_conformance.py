"""The conformance suite every chain driver passes, run against each driver's local chain.

To check your own driver, write a ``DriverHarness`` for it in ``tests/drivers/harnesses.py``
(or a module of your plugin's tests that imports it): how to build the driver against a
local node, pay, mine, reorg and rate-limit that node, plus the known derivation vector of
the "test test ... junk" mnemonic. Add the class to ``HARNESSES`` under the driver's
entry-point name, and every test below runs for it:

    .venv/bin/pytest tests/drivers -k mychain

A test your driver is known to fail goes in the harness's ``known_failures`` with the
reason; it runs as a strict xfail, so a fix is noticed.
"""

from __future__ import annotations

from decimal import Decimal
from importlib.metadata import entry_points
from typing import NamedTuple

import pytest

from plugins.base import (
    ENTRY_POINT_GROUP,
    ChainDriver,
    DriverConfigError,
    DriverError,
    Transfer,
    default_registry,
)
from tests.drivers.harnesses import HARNESSES, DriverHarness
from tests.support.blocks import block_hash
from tests.support.keys import account_xpub

USDT = 10**6
GARBAGE = ["", " ", "hello", "0x", "T", "0x" + "g" * 40, "T" + "1" * 33, "41" + "0" * 39]
# Settings every driver reads under these names: the core and the docs speak of them.
COMMON_BAD_SETTINGS = [
    ("no_such_setting", 1),
    ("token", "not-an-address"),
    ("confirmations", 0),
    ("confirmations", True),
    ("max_block_range", 0),
    ("max_block_range", "20"),
]


class PaidRange(NamedTuple):
    """Blocks ``start..end`` and the payments made in them: tx hash -> (to, amount)."""

    start: int
    end: int
    made: dict[str, tuple[str, int]]


def assert_well_formed(driver: ChainDriver, found: list[Transfer], start: int, end: int) -> None:
    """What the watcher relies on for every Transfer a scan returns."""
    keys = [(t.tx_hash, t.log_index) for t in found]
    assert len(set(keys)) == len(keys), "(tx_hash, log_index) must name one transfer"
    assert [t.block_number for t in found] == sorted(t.block_number for t in found)
    for t in found:
        assert type(t.amount) is int and t.amount >= 0
        assert type(t.log_index) is int
        assert t.timestamp == driver.block(t.block_number).timestamp
        assert driver.normalize_address(t.to_address) == t.to_address
        assert driver.normalize_address(t.from_address) == t.from_address
        assert start <= t.block_number <= end
        assert t.block_hash == block_hash(driver, t.block_number)


def pay_three(harness: DriverHarness, driver: ChainDriver) -> PaidRange:
    """Three payments over two blocks, then empty blocks, in a range of fresh blocks."""
    start = driver.tip().number + 1
    alice, bob, carol = (harness.recipient(i) for i in range(3))
    made = {harness.pay(alice, 1_500_000): (alice, 1_500_000)}
    harness.mine()
    made[harness.pay(bob, 2 * USDT)] = (bob, 2 * USDT)
    made[harness.pay(carol, 3)] = (carol, 3)
    end = harness.mine(3)
    return PaidRange(start, end, made)


# -- identity and registration ----------------------------------------------------------


def test_is_a_chain_driver_registered_under_its_entry_point(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    assert isinstance(driver, ChainDriver)
    assert isinstance(driver.family, str) and driver.name == "conformance"
    assert type(driver.confirmations) is int and driver.confirmations >= 1
    assert type(driver.max_block_range) is int and driver.max_block_range >= 1
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == harness.kind]
    assert len(found) == 1 and found[0].load() is type(driver)
    assert default_registry().driver_class(harness.kind) is type(driver)


def test_core_keys_are_accepted(harness: DriverHarness) -> None:
    # the core passes the whole [chains.x] table, its own keys included
    driver = harness.make_driver(driver=harness.kind, enabled=True)
    assert isinstance(driver, ChainDriver)


@pytest.mark.parametrize(("key", "value"), COMMON_BAD_SETTINGS)
def test_bad_common_setting_names_the_key(harness: DriverHarness, key: str, value: object) -> None:
    with pytest.raises(DriverConfigError) as caught:
        harness.make_driver(**{key: value})
    assert caught.value.key == key


def test_bad_driver_settings_name_the_key(harness: DriverHarness) -> None:
    for key, value in harness.bad_settings():
        with pytest.raises(DriverConfigError) as caught:
            harness.make_driver(**{key: value})
        assert caught.value.key == key, f"{key}={value!r}"


# -- addresses ------------------------------------------------------------------------


def test_derive_known_vector(harness: DriverHarness, driver: ChainDriver) -> None:
    assert driver.derive_address(account_xpub(harness.coin, account=0), 0) == harness.vector


def test_derived_addresses_are_canonical_and_distinct(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    xpub = account_xpub(harness.coin, account=1)
    derived = [driver.derive_address(xpub, i) for i in range(5)]
    assert len(set(derived) | {harness.vector}) == 6
    for address in derived:
        assert driver.normalize_address(address) == address


def test_normalize_accepts_equivalent_forms(harness: DriverHarness, driver: ChainDriver) -> None:
    assert driver.normalize_address(harness.vector) == harness.vector
    for form in harness.equivalent_forms(harness.vector):
        assert driver.normalize_address(form) == harness.vector, form


def test_normalize_rejects_garbage_foreign_and_mischecksummed(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    foreign = [h.vector for kind, h in HARNESSES.items() if kind != harness.kind]
    accepted = []
    for bad in [*GARBAGE, *foreign, harness.bad_checksum]:
        try:
            driver.normalize_address(bad)
        except ValueError:
            continue
        accepted.append(bad)
    assert accepted == []


def test_payment_uri_names_address_token_and_amount(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    amount = 12_345_678
    uri = driver.payment_uri(harness.vector, amount)
    assert harness.vector in uri
    assert driver.token_address() in uri
    # wallets take base units (EIP-681) or token units (TRON): either, but exact
    in_units = Decimal(amount).scaleb(-driver.decimals()).normalize()
    assert str(amount) in uri or f"{in_units:f}" in uri


# -- reading the chain ---------------------------------------------------------------


def test_decimals_is_an_int_read_from_the_chain(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    assert "decimals" not in harness.settings()  # so the driver had to ask the token
    decimals = driver.decimals()
    assert type(decimals) is int and decimals == harness.token_decimals


def test_head_grows_with_blocks(harness: DriverHarness, driver: ChainDriver) -> None:
    before = driver.tip().number
    harness.mine(3)
    head = driver.tip().number
    assert head == before + 3
    assert driver.tip().confirmed <= head


def test_block_hash_is_stable_and_none_beyond_head(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    head = harness.mine(2)
    assert driver.tip().number == head
    first = block_hash(driver, head)
    assert isinstance(first, str) and first
    assert block_hash(driver, head) == first
    assert block_hash(driver, head - 1) not in (None, first)
    assert block_hash(driver, head + 1) is None
    assert block_hash(driver, head + 1000) is None


def test_transfers_are_exactly_the_payments(harness: DriverHarness, driver: ChainDriver) -> None:
    start, end, made = pay_three(harness, driver)

    found = driver.scan(start, end).transfers

    assert {t.tx_hash: (t.to_address, t.amount) for t in found} == made
    assert len(found) == len(made)
    assert {t.from_address for t in found} == {harness.payer}
    assert_well_formed(driver, found, start, end)


def test_match_keeps_only_watched_recipients_and_is_asked_once(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    start, end, made = pay_three(harness, driver)
    bob = harness.recipient(1)
    asked: list[set[str]] = []

    def match(recipients: set[str]) -> set[str]:
        asked.append(set(recipients))
        return recipients & {bob}

    found = driver.scan(start, end, match).transfers

    assert [(t.to_address, t.amount) for t in found] == [(bob, 2 * USDT)]
    assert found == [t for t in driver.scan(start, end).transfers if t.to_address == bob]
    assert len(asked) == 1 and asked[0] >= {to for to, _ in made.values()}
    assert_well_formed(driver, found, start, end)


def test_other_tokens_and_failed_transfers_are_absent(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    to = harness.recipient(0)
    start = driver.tip().number + 1
    other = harness.pay_other_token(to, 7 * USDT)
    failed = harness.pay_failing(to, 9)
    paid = harness.pay(to, 11)
    end = harness.mine()

    found = driver.scan(start, end).transfers

    assert [(t.tx_hash, t.amount) for t in found] == [(paid, 11)]
    assert other not in {t.tx_hash for t in found}
    assert failed is None or failed not in {t.tx_hash for t in found}


def test_scans_are_idempotent_and_ranges_add_up(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    start, end, _ = pay_three(harness, driver)

    whole = driver.scan(start, end).transfers

    # the watcher may rescan after a crash or move its cursor in any steps: same answer
    assert driver.scan(start, end).transfers == whole
    pieces = [t for n in range(start, end + 1) for t in driver.scan(n, n).transfers]
    assert pieces == whole
    middle = start + 1
    assert driver.scan(start, middle).transfers + driver.scan(middle + 1, end).transfers == whole


def test_reorged_transfer_disappears(harness: DriverHarness, driver: ChainDriver) -> None:
    start = driver.tip().number + 1
    tx = harness.pay(harness.recipient(0), 5)
    head = harness.mine()
    [transfer] = driver.scan(start, head).transfers
    number = transfer.block_number
    assert number > driver.tip().confirmed, "only unconfirmed blocks may be reorged"
    old_hash = block_hash(driver, number)

    harness.reorg(head - number + 1)

    assert driver.tip().number == head
    assert block_hash(driver, number) not in (None, old_hash)
    rescan = driver.scan(start, head).transfers
    assert tx not in {t.tx_hash for t in rescan}
    assert old_hash not in {t.block_hash for t in rescan}


def test_blocks_beyond_head_are_not_reported_empty(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    # a load-balanced provider can route the scan to a node behind the one that gave the
    # head: a block it does not have yet must not come back as a block without transfers
    head = harness.mine()
    with pytest.raises((DriverError, ValueError)):
        driver.scan(head + 1, head + 3)


# -- provider trouble ----------------------------------------------------------------


def test_rate_limit_burst_is_survived(harness: DriverHarness, driver: ChainDriver) -> None:
    start, end, _ = pay_three(harness, driver)
    expected = driver.scan(start, end).transfers

    before = harness.requests_seen()
    harness.rate_limit(2)
    assert driver.scan(start, end).transfers == expected
    harness.rate_limit(2)
    assert driver.tip().number == end
    assert harness.requests_seen() - before >= 2 + 2 + 2, "the bursts were not retried"


def test_persistent_rate_limit_raises_never_a_partial_result(
    harness: DriverHarness, driver: ChainDriver
) -> None:
    start, end, _ = pay_three(harness, driver)

    harness.rate_limit(1000)  # outlasts any in-call retry; the fixtures' nodes end with the test
    with pytest.raises(DriverError):  # RateLimited is one
        driver.scan(start, end)


def test_scan_reports_its_end_block_as_read(harness: DriverHarness, driver: ChainDriver):
    start = driver.tip().number + 1
    harness.pay(harness.recipient(0), USDT)
    end = harness.mine(2)
    scan = driver.scan(start, end)
    block = driver.block(end)
    assert scan.end == block
    assert (block.number, driver.block(end - 1).hash) == (end, block.parent_hash)
    assert driver.tip().hash in (None, driver.block(driver.tip().number).hash)


def test_a_lagging_backend_is_an_error_never_an_empty_range(
    harness: DriverHarness, driver: ChainDriver
):
    start = driver.tip().number + 1
    harness.pay(harness.recipient(0), USDT)
    end = harness.mine()
    harness.lag(behind=1)  # the backend answering lacks the block that pays
    with pytest.raises(DriverError):
        driver.scan(start, end)
    assert [t.amount for t in driver.scan(start, end).transfers] == [USDT]
