"""The overview: volume, open orders, balances, watchers and failing endpoints at a glance,
and the two charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, g, render_template
from flask_babel import gettext as _

from gateway.core.reports import overview as report
from gateway.web import db
from gateway.web.chains import drivers
from gateway.web.dashboard import charts, hooks
from gateway.web.dashboard.blueprint import bp
from gateway.web.dashboard.tips import Tips
from gateway.web.i18n import money

CHART_DAYS = 30


def _tips() -> Tips:
    extensions = current_app.extensions
    if "dashboard.tips" not in extensions:
        extensions["dashboard.tips"] = Tips()
    return extensions["dashboard.tips"]


@bp.get("/")
def overview():
    """Today, this month, and what needs attention."""
    session = db.session()
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    tips = _tips().known(drivers())
    watchers = [
        {
            "chain": w.chain,
            "next_block": w.next_block,
            "tip": tips.get(w.chain, (None,))[0],
            "behind": None if w.chain not in tips else max(0, tips[w.chain][0] - w.next_block + 1),
            "last_block_time": w.last_block_time,
            "updated_at": w.updated_at,
        }
        for w in report.watchers(session)
    ]
    daily = report.daily_volume(session, g.merchant_id, today.date(), CHART_DAYS)
    volume_chart = charts.bars(
        [(d.strftime("%m-%d"), v) for d, v in daily],
        _("USDT paid per day, last %(days)d days", days=CHART_DAYS),
        every=5,
        value_label=lambda v: f"{money(v)} USDT",
    )
    times = report.confirmation_seconds(session, g.merchant_id, now - timedelta(days=CHART_DAYS))
    time_chart = charts.bars(
        [(_bucket_label(bound), count) for bound, count in charts.buckets(times)],
        _("Payments by time from seen to confirmed, last %(days)d days", days=CHART_DAYS),
        value_label=lambda v: _("%(n)s payments", n=v),
    )
    return render_template(
        "dashboard/overview.html",
        today=report.volumes(session, g.merchant_id, today),
        month=report.volumes(session, g.merchant_id, month),
        open_orders=report.open_orders(session, g.merchant_id),
        balances=report.balances(session, g.merchant_id),
        watchers=watchers,
        failing=hooks.failing(session, g.merchant_id),
        volume_chart=volume_chart,
        time_chart=time_chart,
        confirmations=len(times),
    )


def _bucket_label(bound: int | None) -> str:
    if bound is None:
        return _("longer")
    if bound < 3600:
        return _("< %(n)d min", n=bound // 60)
    return _("< %(n)d h", n=bound // 3600)
