"""The USDT payment gateway: create_app() wires config, database, drivers and the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing the package must not load Flask (webhooks/ uses the models)
    from flask import Flask

    from plugins.base import Registry


def create_app(config: Mapping[str, Any] | None = None, registry: Registry | None = None) -> Flask:
    """Build the app. ``config`` overrides file and environment settings (tests use it)."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from gateway import api, chains, checkout, cli, db, errors, logs
    from gateway import config as settings

    app = Flask(__name__, instance_relative_config=True)
    gateway_config = settings.load(overrides=config)
    app.config["GATEWAY"] = gateway_config
    server = gateway_config["server"]
    app.config["SECRET_KEY"] = server["secret_key"] or None
    app.config["MAX_CONTENT_LENGTH"] = server["max_body_bytes"]
    app.json.sort_keys = False
    if server["trusted_proxies"]:
        proxies = server["trusted_proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    logs.init_app(app)
    db.init_app(app)
    chains.init_app(app, registry)
    api.init_app(app)
    checkout.init_app(app)
    errors.init_app(app)  # after the Api, whose own error handler it replaces
    cli.init_app(app)
    return app
