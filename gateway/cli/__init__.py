"""The ``gateway`` command: Flask's CLI plus database, merchant and key management."""

from __future__ import annotations

from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup

from gateway.cli import migrate
from gateway.cli.demo import demo
from gateway.cli.oauth import oauth_group
from gateway.cli.reconcile import reconcile
from gateway.cli.users import user_group
from gateway.cli.wallet import wallet_group
from gateway.cli.watch import rescan, watch
from gateway.cli.worker import worker
from gateway.core import addresses
from gateway.core.config import ConfigError
from gateway.core.models import ApiKey, Merchant, utcnow
from gateway.web import auth, db
from gateway.web.app import create_app
from gateway.web.chains import drivers


def _create_app() -> Flask:
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """USDT payment gateway."""


def _merchant(session, ref: str) -> Merchant:
    merchant = session.scalar(
        sa.select(Merchant).where(sa.or_(Merchant.id == ref, Merchant.name == ref))
    )
    if merchant is None:
        raise click.ClickException(f"no merchant {ref!r}")
    return merchant


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the tables."""
    migrate.upgrade(current_app.config["GATEWAY"]["database"]["url"], revision)
    click.echo("database is up to date")


@click.group("merchant", cls=AppGroup)
def merchant_group() -> None:
    """Merchants and their xpubs."""


@merchant_group.command("create")
@click.argument("name")
def merchant_create(name: str) -> None:
    """Create a merchant called NAME."""
    with db.transaction() as session:
        if session.scalar(sa.select(Merchant).where(Merchant.name == name)):
            raise click.ClickException(f"a merchant called {name!r} exists")
        merchant = Merchant(name=name)
        session.add(merchant)
    click.echo(merchant.id)


@merchant_group.command("xpub")
@click.argument("merchant")
@click.argument("chain")
@click.argument("xpub")
def merchant_xpub(merchant: str, chain: str, xpub: str) -> None:
    """Register MERCHANT's account-level XPUB for CHAIN's family (m/44'/coin'/0')."""
    driver = drivers().get(chain)
    if driver is None:
        raise click.ClickException(f"no enabled chain {chain!r}")
    with db.transaction() as session:
        found = _merchant(session, merchant)
        try:
            addresses.register_xpub(session, found.id, driver, xpub)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        first = driver.derive_address(xpub.strip(), 0)
    click.echo(f"{driver.family} xpub registered; first address {first}")


@click.group("key", cls=AppGroup)
def key_group() -> None:
    """API keys."""


@key_group.command("create")
@click.argument("merchant")
@click.option("--scopes", required=True, help=f"Comma-separated: {','.join(auth.SCOPES)}")
@click.option("--name", default="", help="A label to recognise the key by.")
@click.option(
    "--allow-ip",
    "allow_ip",
    multiple=True,
    help="IP or CIDR allowed to use the key (repeatable; default: any).",
)
@click.option(
    "--expires-in-days",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse the key after this many days (answers warn two weeks before).",
)
def key_create(
    merchant: str,
    scopes: str,
    name: str,
    allow_ip: tuple[str, ...],
    expires_in_days: int | None,
) -> None:
    """Create an API key for MERCHANT; the key is printed once and never stored."""
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with db.transaction() as session:
        found = _merchant(session, merchant)
        try:
            _, plaintext = auth.create_api_key(
                session, found, scopes.split(","), name, allow_ip, expires_at
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(plaintext)


@key_group.command("revoke")
@click.argument("prefix")
def key_revoke(prefix: str) -> None:
    """Revoke the key whose public prefix is PREFIX."""
    with db.transaction() as session:
        key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None:
            raise click.ClickException(f"no key {prefix!r}")
        key.revoked_at = key.revoked_at or utcnow()
    click.echo(f"revoked {prefix}")


# worker and demo build no app: they read the configuration themselves
for _command in (
    db_group,
    merchant_group,
    key_group,
    oauth_group,
    user_group,
    wallet_group,
    watch,
    rescan,
    reconcile,
    worker,
    demo,
):
    main.add_command(_command)
