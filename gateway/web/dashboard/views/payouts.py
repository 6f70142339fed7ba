"""Payouts and history: balances, the ledger's movements (and their CSV), the payouts, and
approving or cancelling one after a step-up. The approver is the user, never an API key."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from gateway.core.accounts import roles, users
from gateway.core.reports import overview as report
from gateway.core.wallet import payouts as payout_service
from gateway.core.wallet.models import LedgerEntry, Payout
from gateway.web import db
from gateway.web.dashboard import access
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.forms import ConfirmForm
from gateway.web.dashboard.labels import units

SHOWN = 50
CSV_COLUMNS = (
    "created_at",
    "movement",
    "chain",
    "kind",
    "account",
    "asset",
    "amount",
    "order_id",
    "payout_id",
    "tx_hash",
)


def _entries(limit: int | None = None) -> sa.Select:
    query = (
        sa.select(LedgerEntry)
        .where(LedgerEntry.merchant_id == g.merchant_id)
        .order_by(LedgerEntry.seq.desc())
    )
    return query if limit is None else query.limit(limit)


def _decimals() -> dict[str, int]:
    chains = db.session().scalars(
        sa.select(LedgerEntry.chain).where(LedgerEntry.merchant_id == g.merchant_id).distinct()
    )
    return {chain: report.decimals_of(db.session(), chain) or 0 for chain in chains}


def _page(forms: dict[str, ConfirmForm] | None = None, status: int = 200):
    session = db.session()
    found = list(
        session.scalars(
            sa.select(Payout)
            .where(Payout.merchant_id == g.merchant_id)
            .order_by(Payout.seq.desc())
            .limit(SHOWN)
        )
    )
    forms = forms or {}
    return render_template(
        "dashboard/payouts.html",
        balances=report.balances(session, g.merchant_id),
        payouts=found,
        forms={p.id: forms.get(p.id) or ConfirmForm(prefix=p.id) for p in found},
        entries=list(session.scalars(_entries(SHOWN))),
        decimals=_decimals(),
    ), status


@bp.get("/payouts")
def payouts():
    """Balances, payouts and the latest movements."""
    return _page()


@bp.get("/payouts/transactions.csv")
def transactions_csv():
    """Every ledger posting of the merchant as CSV, streamed."""
    decimals = _decimals()
    session = db.session()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def line(values) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(values)
            return buffer.getvalue()

        yield line(CSV_COLUMNS)
        for entry in session.scalars(_entries().execution_options(yield_per=500)):
            amount = units(entry.amount, decimals.get(entry.chain))
            if entry.asset != "token":
                amount = Decimal(entry.amount)  # native currency stays in wei or sun
            yield line(
                [
                    entry.created_at.isoformat(),
                    entry.movement,
                    entry.chain,
                    entry.kind,
                    entry.account,
                    entry.asset,
                    format(amount, "f"),
                    entry.order_id or "",
                    entry.payout_id or "",
                    entry.tx_hash or "",
                ]
            )

    headers = {"Content-Disposition": 'attachment; filename="transactions.csv"'}
    # the rows are read while they stream, still inside this request's context
    return Response(stream_with_context(rows()), mimetype="text/csv", headers=headers)


def _decide(payout_id: str, approve: bool):
    session = db.session()
    payout = session.scalar(
        sa.select(Payout)
        .where(Payout.id == payout_id, Payout.merchant_id == g.merchant_id)
        .with_for_update()
    )
    if payout is None:
        abort(404)
    form = ConfirmForm(prefix=payout.id)
    if not form.validate_on_submit():
        return _page({payout.id: form}, 422)
    if not users.confirm(db.session(), g.user, form.confirm.data):
        session.commit()
        form.confirm.errors.append(_("Wrong password or code."))
        return _page({payout.id: form}, 422)
    try:
        if approve:
            payout_service.approve(session, payout, access.actor())
        else:
            payout_service.cancel(session, payout, access.actor())
    except payout_service.PayoutRefused as exc:
        session.rollback()
        flash(_("Refused: %(why)s", why=str(exc)))
        return redirect(url_for("dashboard.payouts"))
    session.commit()
    flash(_("Payout approved.") if approve else _("Payout cancelled."))
    return redirect(url_for("dashboard.payouts"))


@bp.post("/payouts/<payout_id>/approve")
@access.needs(roles.APPROVE)
def payout_approve(payout_id: str):
    """Approve a payout (the password or a 2FA code again)."""
    return _decide(payout_id, approve=True)


@bp.post("/payouts/<payout_id>/cancel")
@access.needs(roles.PAYOUTS)
def payout_cancel(payout_id: str):
    """Cancel a payout not yet broadcast (the password or a 2FA code again)."""
    return _decide(payout_id, approve=False)
