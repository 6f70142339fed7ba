"""An example shop: products, a cart, 'Pay with USDT' through the gateway's hosted checkout,
and a verified webhook that marks the shop's own order paid, once."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from flask import Flask, abort, redirect, render_template, request, session, url_for
from gateway_client import Gateway, WebhookVerificationError, verify_webhook

from examples.shop.store import Store

PRODUCTS = {
    "mug": ("Gateway mug", Decimal("12.50")),
    "shirt": ("Block explorer T-shirt", Decimal("25.00")),
    "stickers": ("Sticker pack", Decimal("3.00")),
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The shop; settings from ``config`` or SHOP_* / GATEWAY_* environment variables."""
    app = Flask(__name__)
    env = os.environ
    app.config.update(
        SECRET_KEY=env.get("SHOP_SECRET_KEY", "change-me"),
        SHOP_DATABASE=env.get("SHOP_DATABASE", "shop.db"),
        GATEWAY_URL=env.get("GATEWAY_URL", "http://127.0.0.1:5000"),
        GATEWAY_API_KEY=env.get("GATEWAY_API_KEY", ""),
        GATEWAY_WEBHOOK_SECRET=env.get("GATEWAY_WEBHOOK_SECRET", ""),
        GATEWAY_CHAIN=env.get("GATEWAY_CHAIN", "ethereum"),
    )
    app.config.update(config or {})
    app.extensions["store"] = Store(app.config["SHOP_DATABASE"])
    app.extensions["gateway"] = Gateway(app.config["GATEWAY_URL"], app.config["GATEWAY_API_KEY"])
    app.register_blueprint(_routes())
    return app


def _store() -> Store:
    from flask import current_app

    return current_app.extensions["store"]


def _cart() -> dict[str, int]:
    return session.setdefault("cart", {})


def _total(cart: dict[str, int]) -> Decimal:
    return sum((PRODUCTS[k][1] * n for k, n in cart.items()), Decimal("0"))


def _routes():
    from flask import Blueprint, current_app

    bp = Blueprint("shop", __name__)

    @bp.get("/")
    def index():
        """Products and the cart."""
        cart = _cart()
        return render_template("index.html", products=PRODUCTS, cart=cart, total=_total(cart))

    @bp.post("/cart")
    def add():
        """Put one more of a product in the cart."""
        product = request.form.get("product", "")
        if product not in PRODUCTS:
            abort(400)
        cart = _cart()
        cart[product] = cart.get(product, 0) + 1
        session.modified = True
        return redirect(url_for("shop.index"), 303)

    @bp.post("/checkout")
    def checkout():
        """Our order, then the gateway's, then the buyer to its hosted checkout page."""
        cart = _cart()
        if not cart:
            return redirect(url_for("shop.index"), 303)
        total = _total(cart)
        order_id = _store().new_order(json.dumps(cart), str(total))
        gateway: Gateway = current_app.extensions["gateway"]
        # our order id as the Idempotency-Key: a double click never makes a second order
        paid_by = gateway.orders.create(
            total,
            current_app.config["GATEWAY_CHAIN"],
            reference=f"shop-{order_id}",
            metadata={"shop_order": str(order_id)},
            idempotency_key=f"shop-order-{order_id}",
        )
        _store().link(order_id, paid_by["id"])
        session["cart"], session["last_order"] = {}, order_id
        return redirect(paid_by["checkout_url"], 303)

    @bp.get("/orders/<int:order_id>")
    def order(order_id: int):
        """Thank you (once the webhook said paid), or still waiting."""
        found = _store().order(order_id)
        if found is None:
            abort(404)
        return render_template("order.html", order=found, products=PRODUCTS)

    @bp.get("/return")
    def back():
        """Where the checkout page's return link leads: the buyer's last order."""
        last = session.get("last_order")
        return redirect(url_for("shop.order", order_id=last) if last else url_for("shop.index"))

    @bp.post("/webhooks/usdt")
    def webhook():
        """A gateway event: verified, taken once, and a paid order marked paid."""
        secret = current_app.config["GATEWAY_WEBHOOK_SECRET"]
        try:
            event = verify_webhook(request.get_data(), request.headers, secret)
        except WebhookVerificationError:
            return {"error": "invalid signature"}, 400
        data = event.get("data", {})
        gateway_order_id = data.get("id") if event["type"].startswith("order.") else None
        fresh = _store().take_webhook(event["id"], event["type"], gateway_order_id)
        return {"received": event["id"], "duplicate": not fresh}

    return bp
