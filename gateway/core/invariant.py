"""The money invariant: what a chain's payments and orders must say, given its canonical transfers.

The non-reverted payments of a chain are exactly the token transfers with an amount above
zero to watched addresses on the canonical chain, each counted once and given to the order
that owns the address; every order's amounts, flags and status follow from those transfers.
``check`` lists every way the database differs, for tests and for ``gateway reconcile``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import Order, OrderStatus, Payment, PaymentStatus, utcnow
from plugins.base import Transfer

LOOKUP_CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit

#: What names a payment: transaction, sender, recipient, amount and occurrence (how many
#: identical transfers came before it in the same transaction), as payments.record does.
PaymentKey = tuple[str, str, str, int, int]


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One way the database differs from the chain: a row of the reconcile table."""

    kind: str
    subject: str
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: expected {self.expected}, found {self.found}"


@dataclass(frozen=True, slots=True)
class ExpectedPayment:
    """A payment the canonical chain makes: its transfer and the order owning the address."""

    key: PaymentKey
    order_id: str
    transfer: Transfer


@dataclass(frozen=True, slots=True)
class ExpectedOrder:
    """What an order must show; a status or late flag the chain cannot decide allows several."""

    amount_received: int
    amount_confirmed: int
    underpaid: bool
    overpaid: bool
    statuses: frozenset[str]
    late: frozenset[bool]


def expected_payments(
    transfers: Iterable[Transfer], watched: Mapping[str, str]
) -> dict[PaymentKey, ExpectedPayment]:
    """The payments ``transfers`` make, by key; ``watched`` maps address -> order id."""
    # the log order within a transaction decides the occurrence, as in the watcher's scan
    ordered = sorted(transfers, key=lambda t: (t.block_number, t.log_index))
    seen: Counter[tuple[str, str, str, int]] = Counter()
    found: dict[PaymentKey, ExpectedPayment] = {}
    for t in ordered:
        # zero-value transfers are no payment (address poisoning)
        if t.amount <= 0 or t.to_address not in watched:
            continue
        identity = (t.tx_hash, t.from_address, t.to_address, t.amount)
        key = (*identity, seen[identity])
        seen[identity] += 1
        found[key] = ExpectedPayment(key, watched[t.to_address], t)
    return found


def expected_order(
    order: Order, transfers: Iterable[Transfer], confirmed: int, now: datetime
) -> ExpectedOrder:
    """What ``order`` must show given its canonical ``transfers`` and the confirmed head.

    ``now`` is the latest moment by which the watcher has certainly expired what was due
    (the chain's clock of the newest scanned block, or the wall clock if earlier).
    """
    mine = [t for t in transfers if t.amount > 0]
    seen = sum(t.amount for t in mine)
    settled = sum(t.amount for t in mine if t.block_number <= confirmed)
    late_money = sum(t.amount for t in mine if _after(t, order.expires_at))
    by_amounts = (
        OrderStatus.PAID
        if settled >= order.amount
        else OrderStatus.CONFIRMING
        if seen >= order.amount
        else None
    )
    common = {
        "amount_received": seen,
        "amount_confirmed": settled,
        "underpaid": 0 < seen < order.amount,
        "overpaid": seen > order.amount,
    }
    if order.cancelled_at is not None:
        # a cancelled order stays cancelled; any money on it is flagged
        return ExpectedOrder(
            **common, statuses=frozenset({OrderStatus.CANCELLED}), late=frozenset({seen > 0})
        )
    open_status = frozenset({by_amounts or OrderStatus.PENDING})
    if order.expires_at > utcnow():
        # no clock has reached the expiry yet
        return ExpectedOrder(**common, statuses=open_status, late=frozenset({late_money > 0}))
    if seen - late_money >= order.amount:
        # paid in time: the expiry changes nothing, whenever the watcher noticed it
        return ExpectedOrder(
            **common, statuses=frozenset({by_amounts}), late=frozenset({late_money > 0})
        )
    if seen >= order.amount:
        # completed by late money: expired if the watcher expired the order first,
        # else paid late; late either way
        statuses = frozenset({OrderStatus.EXPIRED, by_amounts})
        late = frozenset({True})
    elif late_money > 0 or seen == 0:
        statuses, late = frozenset({OrderStatus.EXPIRED}), frozenset({late_money > 0})
    else:
        # underpaid in time, then expired: whether the flag is raised depends on whether
        # anything recomputed the order after its expiry, which the chain cannot show
        statuses, late = frozenset({OrderStatus.EXPIRED}), frozenset({False, True})
    if order.expires_at > now:
        # only the wall clock has passed the expiry: the watcher may not have expired it
        statuses |= open_status
        late |= frozenset({late_money > 0})
    return ExpectedOrder(**common, statuses=statuses, late=late)


def check(
    session: Session,
    chain: str,
    canonical_transfers: Iterable[Transfer],
    watched: Mapping[str, str],
    *,
    confirmed: int,
    now: datetime | None = None,
) -> list[Discrepancy]:
    """Every way the chain's payments and the watched orders differ from the transfers.

    ``canonical_transfers``: the token's transfers on the canonical chain (others, and
    those to unwatched addresses, may be included: they are no payments). ``watched``
    maps address -> order id. ``confirmed``: the newest block that counts as confirmed.
    A payment's lateness is judged by the time of its canonical block; one mined before
    the expiry that a reorg moved past it stays on time (as recorded), which the final
    chain cannot show, and is listed.
    """
    now = now or utcnow()
    expected = expected_payments(canonical_transfers, watched)
    orders = _orders(session, set(watched.values()))
    problems: list[Discrepancy] = []

    live = session.scalars(
        sa.select(Payment)
        .where(Payment.chain == chain, Payment.status != PaymentStatus.REVERTED)
        .order_by(Payment.seq)
    ).all()
    recorded: defaultdict[PaymentKey, list[Payment]] = defaultdict(list)
    for payment in live:
        recorded[_key(payment)].append(payment)
    for key, want in expected.items():
        found = recorded.pop(key, [])
        subject = _describe(key)
        if not found:
            problems.append(Discrepancy("missing payment", subject, f"to {want.order_id}", "none"))
            continue
        if len(found) > 1:
            problems.append(Discrepancy("counted twice", subject, "1", str(len(found))))
        problems += _payment_problems(found[0], want, orders.get(want.order_id), confirmed)
    for key, extra in recorded.items():
        where = ", ".join(f"{p.id} in block {p.block_number} ({p.status})" for p in extra)
        problems.append(Discrepancy("payment not on chain", _describe(key), "none", where))

    by_order: defaultdict[str, list[Transfer]] = defaultdict(list)
    for want in expected.values():
        by_order[want.order_id].append(want.transfer)
    for order_id in sorted(set(watched.values())):
        order = orders.get(order_id)
        if order is None:
            problems.append(Discrepancy("unknown order", order_id, "an order", "none"))
            continue
        want = expected_order(order, by_order[order_id], confirmed, now)
        problems += _order_problems(order, want)
    return problems


def _payment_problems(
    payment: Payment, want: ExpectedPayment, order: Order | None, confirmed: int
) -> list[Discrepancy]:
    t, subject, problems = want.transfer, _describe(want.key), []
    if payment.order_id != want.order_id:
        problems.append(Discrepancy("wrong order", subject, want.order_id, payment.order_id))
    if (payment.block_number, payment.block_hash) != (t.block_number, t.block_hash):
        problems.append(
            Discrepancy(
                "wrong block",
                subject,
                f"{t.block_number} {t.block_hash}",
                f"{payment.block_number} {payment.block_hash}",
            )
        )
    status = PaymentStatus.CONFIRMED if t.block_number <= confirmed else PaymentStatus.CONFIRMING
    if payment.status != status:
        problems.append(Discrepancy("payment status", subject, status, payment.status))
    if order is not None:
        late = order.cancelled_at is not None or _after(t, order.expires_at)
        if payment.late != late:
            problems.append(Discrepancy("payment late", subject, str(late), str(payment.late)))
    return problems


def _order_problems(order: Order, want: ExpectedOrder) -> list[Discrepancy]:
    problems = []
    for field, expected, found in (
        ("amount_received", want.amount_received, order.amount_seen),
        ("amount_confirmed", want.amount_confirmed, order.amount_confirmed),
        ("underpaid", want.underpaid, order.underpaid),
        ("overpaid", want.overpaid, order.overpaid),
    ):
        if expected != found:
            problems.append(Discrepancy(f"order {field}", order.id, str(expected), str(found)))
    if order.status not in want.statuses:
        problems.append(
            Discrepancy("order status", order.id, " or ".join(sorted(want.statuses)), order.status)
        )
    if order.late not in want.late:
        allowed = " or ".join(str(v) for v in sorted(want.late))
        problems.append(Discrepancy("order late", order.id, allowed, str(order.late)))
    return problems


def _orders(session: Session, ids: set[str]) -> dict[str, Order]:
    found: dict[str, Order] = {}
    wanted = sorted(ids)
    for i in range(0, len(wanted), LOOKUP_CHUNK):
        rows = session.scalars(sa.select(Order).where(Order.id.in_(wanted[i : i + LOOKUP_CHUNK])))
        found.update((order.id, order) for order in rows)
    return found


def _key(payment: Payment) -> PaymentKey:
    return (
        payment.tx_hash,
        payment.from_address,
        payment.to_address,
        payment.amount,
        payment.occurrence,
    )


def _describe(key: PaymentKey) -> str:
    tx_hash, sender, recipient, amount, occurrence = key
    return f"{amount} from {sender} to {recipient} in tx {tx_hash} #{occurrence}"


def _after(transfer: Transfer, moment: datetime) -> bool:
    """Whether the transfer's block is later than ``moment`` (as payments judge lateness)."""
    return datetime.fromtimestamp(transfer.timestamp, UTC) > moment
