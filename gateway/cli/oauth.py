"""``gateway oauth``: OAuth clients of a merchant and the keys that sign access tokens."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from gateway.core.models import Merchant, utcnow
from gateway.core.oauth import tokens
from gateway.core.oauth.models import OAuthClient
from gateway.web import auth, db
from gateway.web.oauth import issuer


@click.group("oauth", cls=AppGroup)
def oauth_group() -> None:
    """OAuth 2.0 clients (client credentials) and token signing keys."""


@oauth_group.command("client-create")
@click.argument("merchant")
@click.option("--scopes", required=True, help=f"Comma-separated: {','.join(auth.SCOPES)}")
@click.option("--name", default="", help="A label, e.g. the platform's name.")
@click.option("--allow-ip", "allow_ip", multiple=True, help="IP or CIDR (repeatable).")
def client_create(merchant: str, scopes: str, name: str, allow_ip: tuple[str, ...]) -> None:
    """Create a client for MERCHANT; its secret is printed once and stored hashed."""
    with db.transaction() as session:
        found = session.scalar(
            sa.select(Merchant).where(sa.or_(Merchant.id == merchant, Merchant.name == merchant))
        )
        if found is None:
            raise click.ClickException(f"no merchant {merchant!r}")
        try:
            granted = auth.parse_scopes(scopes.split(","))
            networks = auth.parse_networks(allow_ip)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        client, secret = tokens.create_client(session, found.id, granted, name, networks)
    click.echo(f"client_id     {client.id}\nclient_secret {secret}")


@oauth_group.command("client-revoke")
@click.argument("client_id")
def client_revoke(client_id: str) -> None:
    """Revoke CLIENT_ID: no new token, and its tokens stop working at once."""
    with db.transaction() as session:
        client = session.scalar(sa.select(OAuthClient).where(OAuthClient.id == client_id))
        if client is None:
            raise click.ClickException(f"no client {client_id!r}")
        client.revoked_at = client.revoked_at or utcnow()
    click.echo(f"revoked {client_id}")


@oauth_group.command("rotate-key")
def rotate_key() -> None:
    """Sign new tokens with a new key; the old one verifies until its tokens expire."""
    signer = issuer()
    if signer is None:
        raise click.ClickException("configuration: server.secret_key is required for OAuth")
    with db.transaction() as session:
        key = tokens.rotate(session, signer)
    base = current_app.config["GATEWAY"]["server"]["base_url"].rstrip("/")
    click.echo(f"signing with key {key.kid}; published at {base}/oauth/jwks.json")
