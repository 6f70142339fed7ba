"""The hosted payment page a buyer sees: ``/pay/<order_id>`` and its live status."""

from __future__ import annotations

from flask import Flask

from gateway.core import schemas
from gateway.web.checkout.views import PREFIX, bp


def init_app(app: Flask) -> None:
    """Serve the checkout page and link every serialized order to it."""
    app.register_blueprint(bp)
    base_url = app.config["GATEWAY"]["server"]["base_url"].rstrip("/")
    schemas.link_checkout(app.extensions["db.sessionmaker"], f"{base_url}{PREFIX}/")
