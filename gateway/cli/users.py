"""``gateway user ...``: dashboard users from the shell. These commands build no app (no
drivers, no API): they read the configuration and open the database, and nothing more."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core import config as settings
from gateway.core.accounts import sessions, totp, users
from gateway.core.accounts.models import Role, User
from gateway.core.config import ConfigError
from gateway.core.db import make_engine
from gateway.core.models import Merchant

RESET_PATH = "/dashboard/reset/"


def _config() -> dict[str, Any]:
    try:
        return settings.load()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


@contextmanager
def _session(config: dict[str, Any]) -> Iterator[Session]:
    engine = make_engine(config["database"]["url"])
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _merchant(session: Session, ref: str) -> Merchant:
    found = session.scalar(
        sa.select(Merchant).where(sa.or_(Merchant.id == ref, Merchant.name == ref))
    )
    if found is None:
        raise click.ClickException(f"no merchant {ref!r} (create it: gateway merchant create)")
    return found


def _user(session: Session, email: str) -> User:
    found = users.by_email(session, email)
    if found is None:
        raise click.ClickException(f"no user {email!r}")
    return found


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("user")
def user_group() -> None:
    """Dashboard users."""


@user_group.command("create")
@click.argument("merchant")
@click.argument("email")
@click.option(
    "--role", type=click.Choice([str(r) for r in Role]), default="owner", show_default=True
)
@click.option("--name", default="", help="The user's name, as the dashboard shows it.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create(merchant: str, email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a user of MERCHANT who signs in as EMAIL (the first owner, typically)."""
    config = _config()
    password = _password(password_stdin)
    with _session(config) as session:
        try:
            user = users.create(session, _merchant(session, merchant), email, password, role, name)
        except users.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{user.id} {user.email} ({user.role})")
    click.echo(f"sign in at {config['server']['base_url'].rstrip('/')}/dashboard/")


@user_group.command("list")
@click.argument("merchant")
def user_list(merchant: str) -> None:
    """List MERCHANT's users."""
    with _session(_config()) as session:
        for user in users.of_merchant(session, _merchant(session, merchant).id):
            state = "disabled" if user.disabled_at else ("2fa" if user.has_totp else "")
            click.echo(f"{user.id}  {user.email}  {user.role}  {state}".rstrip())


@user_group.command("reset-link")
@click.argument("email")
def user_reset_link(email: str) -> None:
    """Print a one-time password-reset link for EMAIL (it expires, see [dashboard])."""
    config = _config()
    secret = config["server"]["secret_key"]
    if not secret:
        raise click.ClickException("configuration: server.secret_key is required for links")
    with _session(config) as session:
        token = users.make_reset(secret, _user(session, email))
    click.echo(f"{config['server']['base_url'].rstrip('/')}{RESET_PATH}{token}")


@user_group.command("disable-2fa")
@click.argument("email")
def user_disable_2fa(email: str) -> None:
    """Turn two-factor authentication off for EMAIL (a lost phone and recovery codes)."""
    with _session(_config()) as session:
        user = _user(session, email)
        totp.disable(user)
        sessions.revoke_all(session, user.id)
    click.echo(f"two-factor authentication is off for {email}; their sessions are ended")
