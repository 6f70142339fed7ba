"""``gateway watch``: one watcher thread per enabled chain until interrupted."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway.chains import drivers
from gateway.watcher import Watcher
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
    threads = []
    for name in names:
        watcher = Watcher(
            name, available[name], sessions, grace, lease_seconds=settings["watcher"]["lock_ttl"]
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
    log.info("watcher stopped")


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
