"""Payout wallets: one per merchant per chain, hot (the gateway signs) or external.

Receiving never needs them: deposit addresses come from the merchant's xpub and the gateway
cannot move that money. A payout wallet is funded by the merchant, like any address.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.wallet import keys
from gateway.core.wallet.keys import KeyRing
from gateway.core.wallet.models import PayoutWallet, WalletMode
from plugins.base import ChainDriver


class WalletExists(ValueError):
    """The merchant has a payout wallet on this chain already."""


class NoWallet(LookupError):
    """The merchant has no payout wallet on this chain."""


def of(session: Session, merchant_id: str, chain: str, lock: bool = False) -> PayoutWallet:
    """The merchant's payout wallet on ``chain``; NoWallet when there is none.

    ``lock`` holds the row until commit: payouts of one wallet are created one at a time,
    so two can never both take the last of its balance.
    """
    query = sa.select(PayoutWallet).where(
        PayoutWallet.merchant_id == merchant_id, PayoutWallet.chain == chain
    )
    wallet = session.scalar(query.with_for_update() if lock else query)
    if wallet is None:
        raise NoWallet(chain)
    return wallet


def create_hot(
    session: Session,
    merchant_id: str,
    driver: ChainDriver,
    ring: KeyRing,
    actor: Actor,
    private_key: bytes | None = None,
) -> PayoutWallet:
    """A hot wallet with a fresh key (or ``private_key``), kept encrypted by ``ring``."""
    key = private_key or keys.new_key()
    wallet = PayoutWallet(
        merchant_id=merchant_id,
        chain=driver.name,
        mode=WalletMode.HOT,
        address=driver.address_of_key(key),
        decimals=driver.decimals(),
        keystore=ring.seal(key),
    )
    return _add(session, wallet, actor, "imported" if private_key else "generated")


def import_keystore(
    session: Session,
    merchant_id: str,
    driver: ChainDriver,
    ring: KeyRing,
    actor: Actor,
    keystore: str,
    keystore_passphrase: str,
) -> PayoutWallet:
    """A hot wallet from an Ethereum keystore v3 file, sealed again under our passphrase."""
    private_key = keys.decrypt(keystore, keystore_passphrase)
    return create_hot(session, merchant_id, driver, ring, actor, private_key)


def register_external(
    session: Session, merchant_id: str, driver: ChainDriver, actor: Actor, address: str
) -> PayoutWallet:
    """An external wallet: the merchant signs its payouts elsewhere (ValueError: bad address)."""
    wallet = PayoutWallet(
        merchant_id=merchant_id,
        chain=driver.name,
        mode=WalletMode.EXTERNAL,
        address=driver.normalize_address(address),
        decimals=driver.decimals(),
    )
    return _add(session, wallet, actor, "registered")


def _add(session: Session, wallet: PayoutWallet, actor: Actor, how: str) -> PayoutWallet:
    try:
        with session.begin_nested():
            session.add(wallet)
    except IntegrityError:
        raise WalletExists(wallet.chain) from None
    audit.record(
        session,
        wallet.merchant_id,
        actor,
        "payout_wallet.create",
        wallet.id,
        chain=wallet.chain,
        mode=wallet.mode,
        address=wallet.address,
        key=how,
    )
    return wallet
