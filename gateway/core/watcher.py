"""The scan loop: new blocks -> transfers to our addresses -> payments -> order states.

One Watcher per chain. Each step first reads what it needs from the node (the tip, the
range's transfers, the hashes of blocks whose payments are due), then records payments,
settles them and moves the cursor in one short database transaction: no lock is held
while the node answers, and killed at any point a restart rescans from the stored cursor,
where the payments' unique key keeps every transfer counted exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.core import metrics, orders, payments, reorgs
from gateway.core.models import ChainCursor, Order, utcnow
from gateway.core.reorgs import ReorgTooDeep
from gateway.core.wallet.models import PayoutWallet
from plugins.base import ChainDriver, DriverError, RateLimited, Scan, Tip, Transfer
from plugins.http import backoff

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
HALTED_RETRY = 60.0  # a chain stopped by a too-deep reorg says so again this often
LOOKUP_CHUNK = 500  # addresses per IN (...) query, well under SQLite's variable limit


@dataclass
class StepResult:
    """What one step did, for logs and tests."""

    start: int = 0
    end: int = -1
    head: int = 0
    payments: int = 0
    caught_up: bool = False
    #: The block the step rescanned from after finding a reorg, else None.
    rewound_to: int | None = None
    #: The tip the step read.
    tip: Tip | None = None

    @property
    def blocks(self) -> int:
        """How many blocks the step scanned."""
        return max(0, self.end - self.start + 1)


class NotOwner(Exception):
    """Another watcher holds this chain's lease."""


@dataclass
class _Plan:
    """What a step read from the database before it asks the node anything."""

    next_block: int
    kept: list[tuple[int, str]]
    hashes: dict[int, str | None] = field(default_factory=dict)


class Watcher:
    """Watches one chain for payments to the addresses of its orders."""

    def __init__(
        self,
        chain: str,
        driver: ChainDriver,
        sessions: sessionmaker,
        grace: timedelta,
        lease_seconds: int = 30,
        owner: str | None = None,
        tasks: Sequence[Callable[[Tip], None]] = (),
    ):
        self.chain = chain
        self.driver = driver
        self.sessions = sessions
        self.grace = grace
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        # work that must run where this chain's lease is held, after each step (payouts)
        self.tasks = tuple(tasks)

    def step(self) -> StepResult:
        """Scan the next range; raises NotOwner while another watcher holds the chain."""
        # the tip is read before the watched set, so any order paid in a block up to the
        # head was committed before we look for orders: none can slip through
        read_at = utcnow()
        tip = self.driver.tip()
        with self.sessions() as session, session.begin():
            cursor = self._lease(session, tip)
            plan = _Plan(cursor.next_block, reorgs.kept(session, self.chain))
        # new blocks right after the last scanned: the first one's parent link checks the
        # newest kept hash after the scan, for free; otherwise the kept hashes come first
        linked = bool(plan.kept) and plan.kept[0][0] + 1 == plan.next_block <= tip.number
        fork = None if linked else self._fork(plan, tip)
        start = plan.next_block if fork is None else fork + 1
        end = min(tip.number, start + self.driver.max_block_range - 1)
        scan = self.driver.scan(start, end, self._matcher()) if end >= start else None
        if linked and scan is not None and scan.first.parent_hash != plan.kept[0][1]:
            # the range builds on another parent: a reorg; this scan is thrown away and the
            # next step scans again from the fork point
            fork, scan = self._fork(plan, tip), None
            if fork is None:
                raise DriverError("the node changed its answer while it was being read")
            start = fork + 1
        # a fresh cursor keeps the hash of the block before its first range too (genesis,
        # which never changes, for a range from 0), so that a reorg right away still finds
        # a kept block below it
        fresh = not plan.kept and scan is not None
        anchor = self.driver.block(max(0, start - 1)) if fresh else None
        self._read_hashes(plan, tip, fork, scan)
        result = StepResult(start=start, head=tip.number, tip=tip)
        with self.sessions() as session, session.begin():
            cursor = self._lease(session, tip, expect=plan.next_block)
            if fork is not None:
                reorgs.forget_above(session, self.chain, fork)
                cursor.next_block = result.rewound_to = fork + 1
            if scan is not None:
                if anchor is not None:
                    reorgs.remember(session, self.chain, anchor)
                result.payments = self._record(session, scan.transfers)
                reorgs.remember(session, self.chain, scan.end)
                cursor.next_block, result.end = end + 1, end
            reverted_from = payments.settle(session, self.chain, plan.hashes, tip.confirmed)
            if 0 <= reverted_from < start:
                # a payment's block vanished below this step's range, unnoticed by the kept
                # hashes: scan again from the newest kept block below it, so that every
                # block above a kept hash is scanned again and later reorgs are still seen
                reorgs.forget_above(session, self.chain, reverted_from - 1)
                newest = reorgs.newest(session, self.chain)
                cursor.next_block = reverted_from if newest is None else newest + 1
                log.warning("%s: rescanning from %s", self.chain, cursor.next_block)
            reorgs.prune(session, self.chain, tip)
            result.caught_up = cursor.next_block > tip.number
            if result.caught_up:
                self._expire(session, read_at)
        return result

    def _fork(self, plan: _Plan, tip: Tip) -> int | None:
        """The newest kept block below a reorg, or None while the last scanned is canonical."""
        if not plan.kept:
            return None
        fork = reorgs.fork_point(self.chain, plan.kept, self._canonical(tip))
        if fork is not None:
            log.warning(
                "%s: block %s changed (reorg); rescanning from %s",
                self.chain,
                plan.kept[0][0],
                fork + 1,
            )
        return fork

    def _canonical(self, tip: Tip):
        """The node's hash of a block: the tip's own for the head, else one header read."""

        def canonical(number: int) -> str | None:
            if number == tip.number and tip.hash is not None:
                return tip.hash
            block = self.driver.block(number)
            return None if block is None else block.hash

        return canonical

    def _read_hashes(self, plan: _Plan, tip: Tip, fork: int | None, scan: Scan | None) -> None:
        """Read the hashes settle needs: blocks of due payments, and all above a fork."""
        with self.sessions() as session:
            wanted = payments.blocks_to_check(session, self.chain, tip.confirmed, fork)
        # the scan has just read its own blocks' hashes
        known = {t.block_number: t.block_hash for t in scan.transfers} if scan else {}
        canonical = self._canonical(tip)
        for number in sorted(wanted):
            plan.hashes[number] = known[number] if number in known else canonical(number)
        plan.hashes.update(known)

    def _matcher(self):
        """The scan's match callback: which recipients are watched, read in a short session."""

        def match(recipients: set[str]) -> set[str]:
            with self.sessions() as session:
                return set(self._watched(session, recipients)) | set(
                    self._wallets(session, recipients)
                )

        return match

    def _expire(self, session: Session, read_at: datetime) -> None:
        """Expire unpaid orders whose time is up by the clock of the newest scanned block.

        Every block up to the head is scanned, but a stale node's head is old: judging by
        the wall clock would expire orders that were paid in blocks it has not seen yet.
        """
        seconds = reorgs.chain_time(session, self.chain)
        now = read_at if seconds is None else min(read_at, datetime.fromtimestamp(seconds, UTC))
        orders.expire_due(session, now=now, chain=self.chain)

    def _lease(self, session: Session, tip: Tip, expect: int | None = None) -> ChainCursor:
        """Take or extend this chain's lease; ``expect`` is the cursor the step planned from."""
        now = utcnow()
        cursor = session.get(ChainCursor, self.chain, with_for_update=True)
        if cursor is None:
            cursor = ChainCursor.near(self.chain, tip.number, self.driver.confirmations)
            session.add(cursor)
            try:
                session.flush()
            except IntegrityError:
                raise NotOwner(self.chain) from None
        if cursor.owner not in (None, self.owner) and cursor.lease_until > now:
            raise NotOwner(self.chain)
        if expect is not None and cursor.next_block != expect:
            # another watcher took the chain over and moved on while this one read the node
            raise NotOwner(self.chain)
        cursor.owner, cursor.lease_until = self.owner, now + self.lease
        cursor.head = tip.number  # for /readyz: the lag behind the node's head
        return cursor

    def _record(self, session: Session, transfers: list[Transfer]) -> int:
        """Store the transfers to watched addresses as payments (or deposits); how many new."""
        # zero-value transfers move no money; anyone can send them to any address (the
        # address-poisoning trick), so they are no payment
        paying = [t for t in transfers if t.amount > 0]
        recipients = {t.to_address for t in paying}
        watched = self._watched(session, recipients)
        funded = self._wallets(session, recipients - set(watched))
        found = [t for t in paying if t.to_address in watched or t.to_address in funded]
        orders_by_id = payments.for_orders(session, set(watched.values()))
        seen: Counter[tuple[str, str, str, int]] = Counter()
        counted = 0
        for transfer in found:
            key = (transfer.tx_hash, transfer.from_address, transfer.to_address, transfer.amount)
            occurrence, seen[key] = seen[key], seen[key] + 1
            order = orders_by_id.get(watched.get(transfer.to_address, ""))
            wallet_id = funded.get(transfer.to_address)
            if payments.record(session, self.chain, order, transfer, occurrence, wallet_id):
                counted += 1
                if order is not None:
                    metrics.PAYMENTS.labels(self.chain).inc()
                    metrics.PAYMENT_AMOUNT.labels(self.chain).inc(
                        transfer.amount / 10**order.decimals
                    )
                log.info(
                    "%s: %s base units to %s in block %s (%s)",
                    self.chain,
                    transfer.amount,
                    transfer.to_address,
                    transfer.block_number,
                    f"order {order.id}" if order is not None else f"payout wallet {wallet_id}",
                )
        return counted

    def _wallets(self, session: Session, candidates: set[str]) -> dict[str, str]:
        """Payout wallet ids by address, among ``candidates``: their arrivals are deposits."""
        if not candidates:
            return {}
        rows = session.execute(
            sa.select(PayoutWallet.address, PayoutWallet.id).where(
                PayoutWallet.chain == self.chain, PayoutWallet.address.in_(sorted(candidates))
            )
        )
        return {address: wallet_id for address, wallet_id in rows}

    def _watched(self, session: Session, candidates: set[str]) -> dict[str, str]:
        """Order ids by address, among ``candidates``, of orders still worth watching.

        Only the recipients seen in this range are looked up, so the cost follows the
        chain's traffic, not the number of open orders.
        """
        horizon = utcnow() - self.grace
        watched: dict[str, str] = {}
        addresses = sorted(candidates)
        for i in range(0, len(addresses), LOOKUP_CHUNK):
            rows = session.execute(
                sa.select(Order.address, Order.id).where(
                    Order.chain == self.chain,
                    Order.address.in_(addresses[i : i + LOOKUP_CHUNK]),
                    sa.or_(
                        Order.status.in_(orders.OPEN),
                        Order.expires_at > horizon,
                        Order.updated_at > horizon,
                    ),
                )
            )
            watched.update((address, order_id) for address, order_id in rows)
        return watched

    def release(self) -> None:
        """Give the chain up so another watcher can take over at once."""
        with self.sessions() as session, session.begin():
            session.execute(
                sa.update(ChainCursor)
                .where(ChainCursor.chain == self.chain, ChainCursor.owner == self.owner)
                .values(owner=None, lease_until=None)
            )

    def run(self, stop: threading.Event, poll_interval: float) -> None:
        """Step until ``stop`` is set: fast while behind, polling once caught up."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    result = self.step()
                except NotOwner:
                    log.info("%s: another watcher holds this chain; waiting", self.chain)
                    stop.wait(self.lease.total_seconds() / 2)
                    continue
                except RateLimited as exc:
                    failures += 1
                    wait = exc.retry_after or backoff(failures, base=0.5, cap=MAX_BACKOFF)
                    log.warning("%s: rate limited; retrying in %.1fs", self.chain, wait)
                    stop.wait(wait)
                    continue
                except DriverError as exc:
                    failures += 1
                    wait = backoff(failures, base=0.5, cap=MAX_BACKOFF)
                    log.warning("%s: node error (%s); retrying in %.1fs", self.chain, exc, wait)
                    stop.wait(wait)
                    continue
                except sa.exc.OperationalError as exc:
                    # the database restarts or is unreachable: the step wrote nothing (one
                    # transaction), so waiting and stepping again loses and doubles nothing
                    failures += 1
                    wait = backoff(failures, base=0.5, cap=MAX_BACKOFF)
                    log.warning(
                        "%s: database unavailable (%s); retrying in %.1fs",
                        self.chain,
                        type(exc.orig).__name__,
                        wait,
                    )
                    stop.wait(wait)
                    continue
                except ReorgTooDeep as exc:
                    log.critical("%s", exc)
                    stop.wait(HALTED_RETRY)
                    continue
                failures = 0
                lag = 0 if result.caught_up else max(0, result.head - max(result.end, 0))
                metrics.SCAN_LAG.labels(self.chain).set(lag)
                metrics.LAST_STEP.labels(self.chain).set_to_current_time()
                for task in self.tasks:
                    try:
                        task(result.tip)
                    except Exception:
                        # payouts must never stop the payments of the chain being watched
                        log.exception("%s: a task after the step failed", self.chain)
                if result.blocks:
                    log.info(
                        "%s: scanned %s-%s head=%s lag=%s payments=%s",
                        self.chain,
                        result.start,
                        result.end,
                        result.head,
                        max(0, result.head - result.end),
                        result.payments,
                    )
                if result.caught_up:
                    stop.wait(self.driver.poll_interval or poll_interval)
        finally:
            self.release()
