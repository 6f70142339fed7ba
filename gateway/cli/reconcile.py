"""``gateway reconcile``: prove the ledger equals the chain, or show where it does not."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from gateway.core.models import ChainCursor, Merchant, Payment
from gateway.core.money import to_decimal_string
from gateway.core.wallet import reconcile as compare
from gateway.web import db
from gateway.web.chains import drivers


@click.command("reconcile")
@click.option("--merchant", "merchant_ref", help="Only this merchant (id or name).")
@click.option("--chain", "chains", multiple=True, help="Only this chain (repeatable).")
@click.option(
    "--from-block",
    type=click.IntRange(min=0),
    help="Scan deposit addresses from this block (default: the first block holding a payment).",
)
@with_appcontext
def reconcile(merchant_ref: str | None, chains: tuple[str, ...], from_block: int | None) -> None:
    """Compare the ledger with the chain for every deposit address and payout wallet.

    Prints one row per address and exits 1 when any differs.
    """
    session = db.session()
    merchant_id = None
    if merchant_ref:
        merchant_id = session.scalar(
            sa.select(Merchant.id).where(
                sa.or_(Merchant.id == merchant_ref, Merchant.name == merchant_ref)
            )
        )
        if merchant_id is None:
            raise click.ClickException(f"no merchant {merchant_ref!r}")
    available = drivers()
    rows: list[compare.Row] = []
    for chain in chains or sorted(available):
        if chain not in available:
            raise click.ClickException(f"no enabled chain {chain!r}")
        driver = available[chain]
        confirmed = driver.tip().confirmed
        start = from_block if from_block is not None else _first_block(session, chain)
        if start is not None:
            rows += compare.deposit_addresses(session, driver, chain, start, confirmed, merchant_id)
        rows += compare.payout_wallets(session, driver, chain, merchant_id)
    decimals = {chain: available[chain].decimals() for chain in {r.chain for r in rows}}
    click.echo(f"{'chain':<10} {'kind':<16} {'address':<44} {'ledger':>16} {'chain':>16}  ")
    for row in rows:
        places = decimals[row.chain]
        mark = (
            ""
            if row.difference == 0
            else f"DIFFERS by {to_decimal_string(abs(row.difference), places)}"
        )
        click.echo(
            f"{row.chain:<10} {row.kind:<16} {row.address:<44} "
            f"{to_decimal_string(row.ledger, places):>16} "
            f"{to_decimal_string(row.chain_amount, places):>16}  {mark}"
        )
    differing = [row for row in rows if row.difference]
    click.echo(f"{len(rows)} addresses, {len(differing)} differ")
    if differing:
        raise SystemExit(1)


def _first_block(session, chain: str) -> int | None:
    """Where payments on ``chain`` start (or the watcher's cursor when there are none)."""
    first = session.scalar(
        sa.select(sa.func.min(Payment.block_number)).where(Payment.chain == chain)
    )
    if first is not None:
        return first
    cursor = session.get(ChainCursor, chain)
    return None if cursor is None else cursor.next_block
