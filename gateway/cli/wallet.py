"""``gateway wallet``: payout wallets from the operator's shell (audited as ``cli``)."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from gateway.core.audit import Actor
from gateway.core.models import Merchant
from gateway.core.wallet import wallets
from gateway.core.wallet.keys import KeyRing, KeysUnavailable, WrongPassphrase
from gateway.core.wallet.models import PayoutWallet
from gateway.web import db
from gateway.web.chains import drivers
from plugins.base import ChainDriver, DriverError


@click.group("wallet", cls=AppGroup)
def wallet_group() -> None:
    """Payout wallets: where a merchant's payouts leave from."""


def _merchant(session: Session, ref: str) -> Merchant:
    merchant = session.scalar(
        sa.select(Merchant).where(sa.or_(Merchant.id == ref, Merchant.name == ref))
    )
    if merchant is None:
        raise click.ClickException(f"no merchant {ref!r}")
    return merchant


def _driver(chain: str) -> ChainDriver:
    driver = drivers().get(chain)
    if driver is None:
        raise click.ClickException(f"no enabled chain {chain!r}")
    return driver


def _ring() -> KeyRing:
    ring: KeyRing = current_app.extensions["keyring"]
    if not ring.enabled:
        raise click.ClickException(
            "hot wallets are disabled: set the passphrase in the environment variable named by"
            " [wallets] passphrase_env, or in the file [wallets] passphrase_file"
        )
    return ring


def _done(wallet: PayoutWallet) -> None:
    click.echo(f"{wallet.id} {wallet.mode} {wallet.chain} {wallet.address}")
    click.echo("fund this address with the token and with gas (the chain's native currency)")


@wallet_group.command("create")
@click.argument("merchant")
@click.argument("chain")
@click.option(
    "--external",
    "address",
    metavar="ADDRESS",
    help="Register ADDRESS, whose key stays with you (each payout is signed elsewhere);"
    " without it a hot wallet is made with a new key the gateway keeps encrypted.",
)
def wallet_create(merchant: str, chain: str, address: str | None) -> None:
    """Create MERCHANT's payout wallet on CHAIN: hot (a new key) or --external."""
    driver = _driver(chain)
    ring = None if address else _ring()
    try:
        with db.transaction() as session:
            found = _merchant(session, merchant)
            if address is not None:
                wallet = wallets.register_external(session, found.id, driver, Actor.cli(), address)
            else:
                wallet = wallets.create_hot(session, found.id, driver, ring, Actor.cli())
    except wallets.WalletExists:
        raise click.ClickException(f"{merchant} has a payout wallet on {chain} already") from None
    except KeysUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except DriverError as exc:
        raise click.ClickException(f"the {chain} node cannot be reached: {exc}") from None
    except ValueError:
        raise click.ClickException(f"not a valid {chain} address: {address}") from None
    _done(wallet)


@wallet_group.command("import")
@click.argument("merchant")
@click.argument("chain")
@click.argument("keystore_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def wallet_import(merchant: str, chain: str, keystore_file: Path) -> None:
    """Import a hot wallet for MERCHANT on CHAIN from an Ethereum keystore v3 file.

    Asks for the keystore's own password; the key is sealed again under the gateway's
    passphrase and the file's password is not kept.
    """
    driver = _driver(chain)
    ring = _ring()
    try:
        keystore = keystore_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{keystore_file}: cannot be read ({exc})") from None
    password = click.prompt("Keystore password", hide_input=True)
    try:
        with db.transaction() as session:
            found = _merchant(session, merchant)
            wallet = wallets.import_keystore(
                session, found.id, driver, ring, Actor.cli(), keystore, password
            )
    except WrongPassphrase as exc:
        raise click.ClickException(str(exc)) from None
    except wallets.WalletExists:
        raise click.ClickException(f"{merchant} has a payout wallet on {chain} already") from None
    except DriverError as exc:
        raise click.ClickException(f"the {chain} node cannot be reached: {exc}") from None
    _done(wallet)
