"""The money invariant (gateway.core.invariant) on hand-made rows: silent when the database
agrees with the chain, and naming every difference injected into it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from gateway.core.db import make_engine
from gateway.core.invariant import check, expected_payments
from gateway.core.models import HdAccount, Merchant, Order, OrderStatus, Payment, utcnow
from plugins.base import Transfer
from tests.support.databases import sqlite_copy

CHAIN = "devnet"
A, B, C, STRANGER = "0xA", "0xB", "0xC", "0xS"
NOW = int(utcnow().timestamp())


def transfer(tx: str, to: str, amount: int, block: int, log: int = 0, sender: str = "0xF"):
    return Transfer(tx, log, block, f"h{block}", sender, to, amount, NOW - 100 + block)


# the canonical chain: A paid in full (twice the same amount in one tx, partly unconfirmed),
# B underpaid, a zero-value transfer to C, and money to an address nobody watches
CANONICAL = [
    transfer("t1", A, 4, block=10, log=0),
    transfer("t1", A, 4, block=10, log=1),
    transfer("t2", A, 2, block=12),
    transfer("t3", B, 5, block=11),
    transfer("t4", C, 0, block=11, log=1),
    transfer("t5", STRANGER, 9, block=11, log=2),
]
CONFIRMED = 11


@pytest.fixture
def session(sqlite_template_path, tmp_path) -> Iterator[Session]:
    engine = make_engine(sqlite_copy(sqlite_template_path, tmp_path))
    with sessionmaker(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def shop(session: Session) -> dict[str, str]:
    """Orders for A (10), B (10) and C (1) with the payments and states the chain implies."""
    merchant = Merchant(name="m")
    session.add(merchant)
    session.flush()
    account = HdAccount(merchant_id=merchant.id, family="evm", xpub="x", key_id="k")
    session.add(account)
    session.flush()
    later = utcnow() + timedelta(hours=1)

    def order(address: str, index: int, amount: int, seen: int, confirmed: int, status: str):
        row = Order(
            merchant_id=merchant.id, chain=CHAIN, reference="r", amount=amount, decimals=6,
            token="0xT", address=address, payment_uri="u", hd_account_id=account.id,
            hd_index=index, expires_at=later, amount_seen=seen, amount_confirmed=confirmed,
            underpaid=0 < seen < amount, overpaid=seen > amount, status=status,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id

    ids = {
        A: order(A, 0, 10, 10, 8, OrderStatus.CONFIRMING),
        B: order(B, 1, 10, 5, 5, OrderStatus.PENDING),
        C: order(C, 2, 1, 0, 0, OrderStatus.PENDING),
    }
    for key, want in expected_payments(CANONICAL, ids).items():
        t = want.transfer
        session.add(
            Payment(
                order_id=want.order_id, chain=CHAIN, tx_hash=t.tx_hash, occurrence=key[4],
                log_index=t.log_index, block_number=t.block_number, block_hash=t.block_hash,
                from_address=t.from_address, to_address=t.to_address, amount=t.amount,
                status="confirmed" if t.block_number <= CONFIRMED else "confirming",
            )
        )  # fmt: skip
    session.flush()
    return ids


def problems(session: Session, shop: dict[str, str], transfers=CANONICAL) -> list[str]:
    return [str(d) for d in check(session, CHAIN, transfers, shop, confirmed=CONFIRMED)]


def payment(session: Session, tx: str) -> Payment:
    return session.scalars(sa.select(Payment).where(Payment.tx_hash == tx)).first()


def order_of(session: Session, shop: dict[str, str], address: str) -> Order:
    return session.scalar(sa.select(Order).where(Order.id == shop[address]))


def test_expected_payments_count_identical_transfers_of_one_tx_apart_and_skip_the_rest():
    found = expected_payments(CANONICAL, {A: "a", B: "b", C: "c"})
    assert sorted(found) == [
        ("t1", "0xF", A, 4, 0),
        ("t1", "0xF", A, 4, 1),
        ("t2", "0xF", A, 2, 0),
        ("t3", "0xF", B, 5, 0),
    ]
    assert found["t3", "0xF", B, 5, 0].order_id == "b"


def test_a_database_that_agrees_with_the_chain_has_no_discrepancy(session, shop):
    assert problems(session, shop) == []


def test_a_missing_payment_is_found(session, shop):
    session.delete(payment(session, "t2"))
    session.flush()
    assert problems(session, shop) == [
        f"missing payment 2 from 0xF to {A} in tx t2 #0: expected to {shop[A]}, found none"
    ]


def test_a_payment_the_chain_does_not_hold_is_found(session, shop):
    assert any(
        p.startswith("payment not on chain 2 from 0xF to 0xA in tx t2")
        for p in problems(session, shop, [t for t in CANONICAL if t.tx_hash != "t2"])
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p, s: setattr(p, "order_id", s[B]), "wrong order"),
        (lambda p, s: setattr(p, "block_hash", "orphaned"), "wrong block"),
        (lambda p, s: setattr(p, "status", "confirmed"), "payment status"),
        (lambda p, s: setattr(p, "late", True), "payment late"),
    ],
)
def test_a_changed_payment_is_found(session, shop, change: Callable, expected: str):
    change(payment(session, "t2"), shop)
    session.flush()
    assert expected in [p.split(" 2 from")[0] for p in problems(session, shop)]


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("amount_seen", 9, "order amount_received"),
        ("amount_confirmed", 10, "order amount_confirmed"),
        ("underpaid", True, "order underpaid"),
        ("overpaid", True, "order overpaid"),
        ("status", OrderStatus.PAID, "order status"),
        ("late", True, "order late"),
    ],
)
def test_a_changed_order_is_found(session, shop, field: str, value, kind: str):
    setattr(order_of(session, shop, A), field, value)
    session.flush()
    found = problems(session, shop)
    assert found and all(p.startswith(f"{kind} {shop[A]}:") for p in found), found


def test_money_on_an_expired_order_is_late_and_keeps_it_expired(session, shop):
    b = order_of(session, shop, B)
    b.expires_at = utcnow() - timedelta(days=1)
    found = problems(session, shop)
    assert f"order status {shop[B]}: expected expired, found pending" in found
    assert f"order late {shop[B]}: expected True, found False" in found
    b.status, b.late, payment(session, "t3").late = OrderStatus.EXPIRED, True, True
    session.flush()
    assert problems(session, shop) == []


def test_a_reverted_payment_counts_for_nothing(session, shop):
    payment(session, "t3").status = "reverted"
    session.flush()
    assert problems(session, shop)[0].startswith("missing payment 5 from 0xF to 0xB in tx t3")
