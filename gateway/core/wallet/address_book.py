"""The address book: destinations payouts may go to (allow-list), added and removed, audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.models import utcnow
from gateway.core.schemas import iso
from gateway.core.wallet import payouts
from gateway.core.wallet.models import AddressBookEntry
from gateway.core.wallet.payouts import Policy
from plugins.base import ChainDriver


class EntryExists(ValueError):
    """The address is in the address book already."""


def add(
    session: Session,
    merchant_id: str,
    driver: ChainDriver,
    actor: Actor,
    address: str,
    label: str,
    rules: Policy,
) -> AddressBookEntry:
    """Add ``address`` (PayoutRefused when payouts could never go there), usable after the
    policy's cooldown."""
    canonical = payouts.destination(driver, address)
    entry = AddressBookEntry(
        merchant_id=merchant_id,
        chain=driver.name,
        address=canonical,
        label=label,
        usable_after=utcnow() + timedelta(minutes=rules.allowlist_cooldown_minutes),
        created_by=actor.id,
    )
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        raise EntryExists(canonical) from None
    audit.record(
        session,
        merchant_id,
        actor,
        "address_book.add",
        entry.id,
        chain=entry.chain,
        address=entry.address,
        label=label,
        usable_after=iso(entry.usable_after),
    )
    return entry


def remove(session: Session, entry: AddressBookEntry, actor: Actor) -> None:
    """Remove an entry: payouts to it are refused again when the allow-list is on."""
    audit.record(
        session,
        entry.merchant_id,
        actor,
        "address_book.remove",
        entry.id,
        chain=entry.chain,
        address=entry.address,
    )
    session.delete(entry)
