"""The scan loop: new blocks -> transfers to our addresses -> payments -> order states.

One Watcher per chain. Each step reads the head, scans one block range with a single
driver call, records matching payments, settles confirmations and moves the cursor,
all in one database transaction: killed at any point, a restart rescans from the
stored cursor and the unique payment key keeps every transfer counted exactly once.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway import orders, payments
from gateway.models import ChainCursor, Order, utcnow
from plugins.base import ChainDriver, DriverError, RateLimited

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
LOOKUP_CHUNK = 500  # addresses per IN (...) query, well under SQLite's variable limit


@dataclass
class StepResult:
    """What one step did, for logs and tests."""

    start: int = 0
    end: int = -1
    head: int = 0
    payments: int = 0
    caught_up: bool = False

    @property
    def blocks(self) -> int:
        """How many blocks the step scanned."""
        return max(0, self.end - self.start + 1)


class NotOwner(Exception):
    """Another watcher holds this chain's lease."""


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
    ):
        self.chain = chain
        self.driver = driver
        self.sessions = sessions
        self.grace = grace
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def step(self) -> StepResult:
        """Scan the next range; raises NotOwner while another watcher holds the chain."""
        # the head is read before the watched set, so any order paid in a block up to
        # the head was committed before we look for orders: none can slip through
        read_at = utcnow()
        head = self.driver.head()
        confirmed_head = self.driver.confirmed_head(head)
        with self.sessions() as session, session.begin():
            cursor = self._lease(session, head)
            if cursor.last_hash is not None and cursor.next_block > 0:
                current = self.driver.block_hash(cursor.next_block - 1)
                if current != cursor.last_hash:
                    self._rewind(cursor, confirmed_head)
            result = StepResult(start=cursor.next_block, head=head)
            end = min(head, cursor.next_block + self.driver.max_block_range - 1)
            if end >= cursor.next_block:
                # the end's hash is read first: a reorg during the scan changes it, and the
                # next step's check sees that and rescans
                end_hash = self.driver.block_hash(end)
                if end_hash is None:
                    # a backend behind the provider's balancer lags the one that gave the head
                    raise DriverError(f"block {end} is not available on the node yet")
                watched: dict[str, str] = {}

                def match(recipients: set[str]) -> set[str]:
                    watched.update(self._watched(session, recipients))
                    return set(watched)

                transfers = self.driver.transfers(cursor.next_block, end, match)
                result.payments = self._record(session, transfers, watched)
                result.end = end
                cursor.next_block, cursor.last_hash = end + 1, end_hash
            reverted_from = payments.settle(session, self.chain, self.driver, confirmed_head)
            if 0 <= reverted_from < cursor.next_block:
                # payments vanished with their blocks: rescan so a re-included one is found
                cursor.next_block, cursor.last_hash = reverted_from, None
            result.caught_up = cursor.next_block > head
            if result.caught_up:
                # every block up to the head is scanned, so an order still without money
                # when that head was read has really expired
                orders.expire_due(session, now=read_at, chain=self.chain)
        return result

    def _lease(self, session: Session, head: int) -> ChainCursor:
        now = utcnow()
        cursor = session.get(ChainCursor, self.chain, with_for_update=True)
        if cursor is None:
            # a new chain starts near the head: nobody can have paid an order before it
            # existed, and reorgs reach back at most the confirmation depth
            start = max(0, head - self.driver.confirmations)
            cursor = ChainCursor(chain=self.chain, next_block=start)
            session.add(cursor)
            try:
                session.flush()
            except IntegrityError:
                raise NotOwner(self.chain) from None
        if cursor.owner not in (None, self.owner) and cursor.lease_until > now:
            raise NotOwner(self.chain)
        cursor.owner, cursor.lease_until = self.owner, now + self.lease
        return cursor

    def _rewind(self, cursor: ChainCursor, confirmed_head: int) -> None:
        target = max(0, min(cursor.next_block - 1, confirmed_head + 1))
        log.warning(
            "%s: block %s changed (reorg); rescanning from %s",
            self.chain,
            cursor.next_block - 1,
            target,
        )
        cursor.next_block, cursor.last_hash = target, None

    def _record(self, session: Session, transfers, watched: dict[str, str]) -> int:
        """Store the transfers to watched addresses as payments; how many were new."""
        found = [t for t in transfers if t.to_address in watched]
        orders_by_id = payments.for_orders(session, {watched[t.to_address] for t in found})
        now = utcnow()
        counted = 0
        for transfer in found:
            order = orders_by_id[watched[transfer.to_address]]
            if payments.record(session, self.chain, order, transfer, now) is not None:
                counted += 1
                log.info(
                    "%s: %s base units to %s in block %s (order %s)",
                    self.chain,
                    transfer.amount,
                    transfer.to_address,
                    transfer.block_number,
                    order.id,
                )
        return counted

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
                    wait = exc.retry_after or _backoff(failures)
                    log.warning("%s: rate limited; retrying in %.1fs", self.chain, wait)
                    stop.wait(wait)
                    continue
                except DriverError as exc:
                    failures += 1
                    wait = _backoff(failures)
                    log.warning("%s: node error (%s); retrying in %.1fs", self.chain, exc, wait)
                    stop.wait(wait)
                    continue
                failures = 0
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
                    stop.wait(poll_interval)
        finally:
            self.release()


def _backoff(failures: int) -> float:
    return min(MAX_BACKOFF, 0.5 * 2 ** min(failures, 8)) * random.uniform(0.5, 1.0)
