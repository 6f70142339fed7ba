"""Per-order deposit addresses: the next unused index of the merchant's xpub, never reused."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.models import HdAccount
from plugins.base import ChainDriver


class NoXpub(LookupError):
    """The merchant has registered no xpub for this chain family."""


def register_xpub(session: Session, merchant_id: str, driver: ChainDriver, xpub: str) -> HdAccount:
    """Store the merchant's account-level xpub for the driver's family after a test derivation."""
    xpub = xpub.strip()
    driver.derive_address(xpub, 0)  # raises ValueError for anything but a valid account xpub
    owner = session.scalar(
        sa.select(HdAccount.merchant_id).where(
            HdAccount.family == driver.family, HdAccount.xpub == xpub
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
        if account.xpub != xpub and account.next_index > 0:
            # swapping keys would orphan the addresses already handed out
            raise ValueError(f"an xpub for {driver.family} is already in use for this merchant")
        account.xpub = xpub
        return account
    account = HdAccount(merchant_id=merchant_id, family=driver.family, xpub=xpub)
    session.add(account)
    session.flush()
    return account


def allocate(session: Session, merchant_id: str, driver: ChainDriver) -> tuple[int, int, str]:
    """Take the next index atomically; return (hd account id, index, address).

    The UPDATE ... RETURNING holds the account row's lock until the caller commits, so
    concurrent orders get consecutive indexes; a rollback gives the index back, so no
    index is ever lost silently.
    """
    row = session.execute(
        sa.update(HdAccount)
        .where(HdAccount.merchant_id == merchant_id, HdAccount.family == driver.family)
        .values(next_index=HdAccount.next_index + 1)
        .returning(HdAccount.id, HdAccount.xpub, HdAccount.next_index)
    ).one_or_none()
    if row is None:
        raise NoXpub(driver.family)
    account_id, xpub, next_index = row
    index = next_index - 1
    return account_id, index, driver.derive_address(xpub, index)
