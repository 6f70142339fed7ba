"""What operators see: /metrics (Prometheus) and who counts as an operator."""

from __future__ import annotations

import hmac
import ipaddress
import os

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from gateway.core import metrics
from gateway.core.models import Order, OrderStatus

bp = Blueprint("ops", __name__)


def init_app(app: Flask) -> None:
    """Serve /healthz, /readyz and (when [ops] metrics is on) /metrics."""
    from gateway.web import health

    app.register_blueprint(bp)
    app.register_blueprint(health.bp)


def is_operator() -> bool:
    """Whether the caller is an operator: from [ops] allow_from, or with [ops] token."""
    settings = current_app.config["GATEWAY"]["ops"]
    token = settings["token"]
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented, token):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings["allow_from"])


class _OrdersByState:
    """``gateway_orders{state}``, counted in the database at each scrape."""

    def __init__(self, sessions) -> None:
        self.sessions = sessions

    def collect(self):
        family = GaugeMetricFamily("gateway_orders", "Orders by state.", labels=["state"])
        with self.sessions() as session:
            rows = session.execute(sa.select(Order.status, sa.func.count()).group_by(Order.status))
            counts = {status: count for status, count in rows}
        for state in OrderStatus:
            family.add_metric([str(state)], counts.get(state, 0))
        yield family


@bp.get("/metrics")
def scrape():
    """Every metric of every process of this host, in Prometheus' text format."""
    if not current_app.config["GATEWAY"]["ops"]["metrics"] or not is_operator():
        abort(404)  # not "forbidden": a public scanner learns nothing
    if metrics.MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    registry.register(_OrdersByState(current_app.extensions["db.sessionmaker"]))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _Everything:
    """This process's default registry, beside the scrape's own collectors."""

    def collect(self):
        yield from REGISTRY.collect()
