"""/healthz and /readyz without the stack; production HTTPS settings."""

from __future__ import annotations

import pytest

from gateway.core.config import ConfigError
from gateway.web.app import create_app


@pytest.fixture
def chain_settings():
    """No chain: readiness then checks the database, Redis and the webhook queue."""
    return {}


def test_healthz_asks_nothing(app, client):
    app.config["GATEWAY"]["database"]["url"] = "postgresql+psycopg://nobody@127.0.0.1:1/x"
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_names_a_failing_part_and_tells_strangers_nothing_more(app, client):
    app.config["GATEWAY"]["redis"]["url"] = "redis://:hunter2@127.0.0.1:1/0"
    app.config["GATEWAY"]["ops"]["allow_from"] = ["10.9.9.0/24"]  # the test client is not in it
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json == {
        "status": "failing",
        "checks": {"database": "ok", "redis": "failing", "webhooks": "ok"},
    }
    assert "hunter2" not in answer.get_data(as_text=True)


def test_an_operator_gets_the_figures_but_no_error_text(app, client):
    app.config["GATEWAY"]["redis"]["url"] = "redis://:hunter2@127.0.0.1:1/0"
    app.config["GATEWAY"]["ops"].update(allow_from=[], token="ops-token")
    answer = client.get("/readyz", headers={"Authorization": "Bearer ops-token"})
    details = answer.json["details"]
    assert details["redis"] == {"error": "ConnectionError"}
    assert details["database"]["revision"] == details["database"]["head"]
    assert details["webhooks"] == {"due": 0, "oldest_due_seconds": 0.0}
    assert "hunter2" not in answer.get_data(as_text=True)


def test_metrics_are_off_by_default_and_hidden_from_strangers(app, client):
    assert client.get("/metrics").status_code == 404
    app.config["GATEWAY"]["ops"].update(metrics=True, allow_from=["10.9.9.0/24"])
    assert client.get("/metrics").status_code == 404
    app.config["GATEWAY"]["ops"]["allow_from"] = ["127.0.0.1/32"]
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert 'gateway_orders{state="pending"} 0.0' in scraped.get_data(as_text=True)


def test_production_refuses_an_http_base_url_unless_allowed(app_config):
    app_config["server"].update(production=True, base_url="http://pay.example")
    with pytest.raises(ConfigError, match="base_url"):
        create_app(app_config)
    app_config["server"]["allow_http_base_url"] = True
    create_app(app_config).extensions["db.engine"].dispose()


def test_production_wants_a_secret_key(app_config):
    app_config["server"].update(production=True, base_url="https://pay.example", secret_key="")
    with pytest.raises(ConfigError, match="secret_key"):
        create_app(app_config)


def test_https_sends_hsts_and_secure_cookies(app_config):
    app_config["server"]["base_url"] = "https://pay.example"
    app = create_app(app_config)
    try:
        answer = app.test_client().get("/healthz")
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=63072000")
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["db.engine"].dispose()


def test_plain_http_in_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_the_grafana_dashboard_graphs_only_metrics_that_exist():
    import json
    import re
    from pathlib import Path

    from prometheus_client import REGISTRY

    import gateway.core.metrics

    dashboard = json.loads(
        (Path(gateway.core.metrics.__file__).parent / "grafana.json").read_text()
    )
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {m for e in exprs for m in re.findall(r"\bgateway_[a-z_]+", e)}
    families = {metric.name for metric in REGISTRY.collect()} | {"gateway_orders"}
    known = {f + suffix for f in families for suffix in ("", "_total", "_bucket", "_count")}
    assert used - known == set()
