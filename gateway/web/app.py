"""The app factory: wiring only, as in Flask's tutorial."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.core import config as settings
from gateway.core import logs
from gateway.core.config import ConfigError
from gateway.core.wallet.keys import KeyRing, KeysUnavailable
from gateway.web import (
    api,
    chains,
    checkout,
    dashboard,
    db,
    docs,
    errors,
    guard,
    https,
    i18n,
    oauth,
    ops,
    ratelimit,
    streams,
    tracing,
)
from plugins.base import Registry

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, registry: Registry | None = None) -> Flask:
    """Build the app. ``config`` overrides file and environment settings (tests use it)."""
    app = Flask("gateway", instance_relative_config=True)
    gateway_config = settings.load(overrides=config)
    app.config["GATEWAY"] = gateway_config
    server = gateway_config["server"]
    app.config["SECRET_KEY"] = server["secret_key"] or None
    app.config["MAX_CONTENT_LENGTH"] = server["max_body_bytes"]
    app.json.sort_keys = False
    if server["trusted_proxies"]:
        proxies = server["trusted_proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    logs.configure(server["log_format"])
    guard.init_app(app)
    tracing.init_app(app)  # after guard: the id is taken first, even for a refused request
    ratelimit.init_app(app)
    db.init_app(app)
    chains.init_app(app, registry)
    _attach_keyring(app, gateway_config["wallets"])
    streams.init_app(app)  # committed events are announced to every process's streams
    api.init_app(app)
    oauth.init_app(app)  # the token endpoint is documented with the API
    i18n.init_app(app)
    checkout.init_app(app)
    dashboard.init_app(app)
    docs.init_app(app)
    ops.init_app(app)
    https.init_app(app)
    errors.init_app(app)  # after the Api, whose own error handler it replaces
    return app


def _attach_keyring(app: Flask, wallets: Mapping[str, Any]) -> None:
    """The hot wallets' KeyRing; without a passphrase hot wallets are disabled (one warning)."""
    try:
        ring = KeyRing(wallets)
    except KeysUnavailable as exc:
        raise ConfigError(str(exc)) from None
    if not ring.enabled:
        log.warning(
            "hot payout wallets are disabled: no passphrase in the environment variable named"
            " by [wallets] passphrase_env, nor in [wallets] passphrase_file"
        )
    app.extensions["keyring"] = ring
