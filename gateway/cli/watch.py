"""``gateway watch``: one watcher thread per enabled chain until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway.core import metrics, reorgs
from gateway.core.models import ChainCursor
from gateway.core.wallet.keys import KeyRing
from gateway.core.wallet.sender import Sender
from gateway.core.watcher import Watcher
from gateway.web import db
from gateway.web.chains import drivers
from plugins.base import DriverError

log = logging.getLogger(__name__)


@click.command("watch")
@click.option("--chain", "chains", multiple=True, help="Watch only this chain (repeatable).")
@with_appcontext
def watch(chains: tuple[str, ...]) -> None:
    """Watch the chains for payments (one process is enough; a second one waits)."""
    settings = current_app.config["GATEWAY"]
    available = drivers()
    names = list(chains) or sorted(available)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise click.ClickException(f"no enabled chain {unknown[0]!r}")
    if not names:
        raise click.ClickException("no chain is enabled in the configuration")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sessions = current_app.extensions["db.sessionmaker"]
    grace = timedelta(minutes=settings["orders"]["late_grace_minutes"])
    ring = keyring(settings)
    metrics.serve(settings["ops"]["metrics_port"])
    log.info(
        "gateway watch: watching %s (payments, expiries, payouts); a second watcher of a"
        " chain waits as a standby",
        ", ".join(names),
    )
    threads = []
    for name in names:
        sender = Sender(
            name,
            available[name],
            sessions,
            ring,
            settings["payouts"],
            settings["wallets"]["gas_floor"].get(name),
        )
        watcher = Watcher(
            name,
            available[name],
            sessions,
            grace,
            lease_seconds=settings["watcher"]["lock_ttl"],
            tasks=[sender.run_once],
        )
        thread = threading.Thread(
            target=watcher.run,
            name=f"watch-{name}",
            daemon=True,
            args=(stop, settings["watcher"]["poll_interval"]),
        )
        thread.start()
        threads.append(thread)
        _announce(name, available[name])
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(timeout=0.5)
    metrics.process_exited()
    log.info("watcher stopped")


def keyring(settings) -> KeyRing:
    """The hot wallets' key ring; says at start when hot wallets cannot sign here."""
    ring = KeyRing(settings["wallets"])
    if not ring.enabled:
        log.warning(
            "hot wallets are disabled: no passphrase in $%s or [wallets] passphrase_file",
            settings["wallets"]["passphrase_env"],
        )
    return ring


def _announce(name: str, driver) -> None:
    """Say what is watched; reading the decimals now checks the token and the node early."""
    try:
        decimals = driver.decimals()
    except DriverError as exc:
        log.warning("watching %s; its node does not answer yet (%s)", name, exc)
        return
    log.info(
        "watching %s: token %s (%s decimals), %s confirmations",
        name,
        driver.token_address(),
        decimals,
        driver.confirmations,
    )


@click.command("rescan")
@click.argument("chain")
@click.option(
    "--from", "from_block", type=click.IntRange(min=0), required=True, help="First block."
)
@with_appcontext
def rescan(chain: str, from_block: int) -> None:
    """Scan CHAIN again from a block: after a reorg deeper than the watcher keeps hashes.

    Payments found again are counted once; the kept block hashes start afresh from there.
    """
    if chain not in drivers():
        raise click.ClickException(f"no enabled chain {chain!r}")
    with db.transaction() as session:
        cursor = session.get(ChainCursor, chain, with_for_update=True)
        if cursor is None:
            raise click.ClickException(f"{chain} has not been watched yet")
        previous, cursor.next_block = cursor.next_block, from_block
        reorgs.forget_above(session, chain, -1)
    log.warning("%s: rescan from block %s (was at %s)", chain, from_block, previous)
    click.echo(f"{chain} will be scanned again from block {from_block} (was at {previous})")
