"""Per-order deposit addresses: the next unused index of the merchant's xpub, never reused."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import HdAccount, Order
from plugins.base import ChainDriver
from plugins.hd import account_key_id

log = logging.getLogger(__name__)


class NoXpub(LookupError):
    """The merchant has registered no xpub for this chain family."""


class AddressCollision(Exception):
    """The order's derived address was held at its insert, and by no order a moment later."""


def register_xpub(session: Session, merchant_id: str, driver: ChainDriver, xpub: str) -> HdAccount:
    """Store the merchant's account-level xpub for the driver's family after a test derivation."""
    xpub = xpub.strip()
    driver.derive_address(xpub, 0)  # raises ValueError for anything but a valid account xpub
    # the key, not the string: the same key re-encoded (another parent fingerprint, say)
    # derives the same addresses, and would hand the owner's next addresses to someone else
    key_id = account_key_id(xpub)
    owner = session.scalar(
        sa.select(HdAccount.merchant_id).where(
            HdAccount.family == driver.family, HdAccount.key_id == key_id
        )
    )
    if owner is not None and owner != merchant_id:
        raise ValueError("this xpub is registered to another merchant")
    account = session.scalar(
        sa.select(HdAccount).where(
            HdAccount.merchant_id == merchant_id, HdAccount.family == driver.family
        )
    )
    if account is not None:
        if account.key_id != key_id and account.next_index > 0:
            # swapping keys would orphan the addresses already handed out
            raise ValueError(f"an xpub for {driver.family} is already in use for this merchant")
        account.xpub, account.key_id = xpub, key_id
        return account
    account = HdAccount(merchant_id=merchant_id, family=driver.family, xpub=xpub, key_id=key_id)
    session.add(account)
    session.flush()
    return account


# Core statements on the session's connection: allocation runs while the account row is
# locked, where the ORM's own work per statement would cost more than the statement.
_accounts = HdAccount.__table__
_TAKE_INDEX = (
    sa.update(_accounts)
    .where(
        _accounts.c.merchant_id == sa.bindparam("merchant"),
        _accounts.c.family == sa.bindparam("account_family"),
    )
    .values(next_index=_accounts.c.next_index + 1)
    .returning(_accounts.c.id, _accounts.c.xpub, _accounts.c.next_index)
)
_orders = Order.__table__
_HOLDER = (
    sa.select(_orders.c.seq)
    .where(_orders.c.chain == sa.bindparam("chain"), _orders.c.address == sa.bindparam("address"))
    .limit(1)
)


def allocate(session: Session, merchant_id: str, driver: ChainDriver) -> tuple[int, int, str]:
    """Take the merchant's next index; return (hd account id, index, address).

    The UPDATE ... RETURNING holds the account row's lock until the caller commits, so
    concurrent orders get consecutive indexes; a rollback gives the index back, so no
    index is ever lost silently. Call it as late as the caller's transaction allows. The
    caller's insert finds out whether another order holds the address (see ``skip``).
    """
    account = {"merchant": merchant_id, "account_family": driver.family}
    row = session.connection().execute(_TAKE_INDEX, account).one_or_none()
    if row is None:
        raise NoXpub(driver.family)
    account_id, xpub, next_index = row
    index = next_index - 1
    return account_id, index, driver.derive_address(xpub, index)


def skip(session: Session, chain: str, account_id: int, index: int, address: str) -> None:
    """An order for ``index`` found ``address`` held: keep the index consumed, or raise
    AddressCollision when no order holds the address any more.

    Only a key shared with another account gets here (registration refuses that now, but
    rows from before may remain). Failing the order would roll back and give this very
    index back, so every later order would fail on it too; skipping it instead consumes
    it, committed with the order that takes the next one.
    """
    if not address_taken(session, chain, address):
        # held when the order was inserted, free now: nothing sure to skip; a retry decides
        raise AddressCollision(chain)
    log.warning(
        "hd account %s index %s derives an address another order holds on %s; skipped",
        account_id,
        index,
        chain,
    )


def address_taken(session: Session, chain: str, address: str) -> bool:
    """Whether an order on ``chain`` already holds ``address`` (orders flushed or committed)."""
    found = session.connection().execute(_HOLDER, {"chain": chain, "address": address})
    return found.first() is not None
