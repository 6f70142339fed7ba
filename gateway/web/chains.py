"""The app's chain drivers: built once from the configuration, found by chain name."""

from __future__ import annotations

from flask import Flask, current_app

from gateway.core.chains import build_drivers
from plugins.base import ChainDriver, Registry


def init_app(app: Flask, registry: Registry | None = None) -> None:
    """Attach the drivers to the app (drivers connect lazily, on first use)."""
    app.extensions["chains"] = build_drivers(app.config["GATEWAY"]["chains"], registry)


def drivers() -> dict[str, ChainDriver]:
    """Drivers of the current app by chain name."""
    return current_app.extensions["chains"]
