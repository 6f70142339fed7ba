"""The checkout page and its status feed: what a buyer needs to pay, and nothing private."""

from __future__ import annotations

import logging
from typing import Any

import segno
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template
from werkzeug.exceptions import HTTPException

from gateway import db, orders
from gateway.chains import drivers
from gateway.models import Order, utcnow
from gateway.money import to_decimal_string

log = logging.getLogger(__name__)

PREFIX = "/pay"
POLL_SECONDS = 4
SYMBOL = "USDT"

bp = Blueprint(
    "checkout",
    __name__,
    url_prefix=PREFIX,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# what a buyer's wallet calls the well-known networks; other names are shown as configured
NETWORKS = {
    "ethereum": "Ethereum",
    "bsc": "BNB Smart Chain",
    "polygon": "Polygon",
    "arbitrum": "Arbitrum One",
    "tron": "TRON",
    "nile": "TRON Nile testnet",
}
STANDARDS = {"evm": "ERC-20", "tron": "TRC-20"}

NOT_FOUND = (
    "This payment link is wrong or no longer exists. Check the link you were given or "
    "start the payment again from the shop. Send no money until this page shows the "
    "amount and the address."
)
UNAVAILABLE = "This page is unavailable for a moment. Send no money now; reload in a minute."

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@bp.after_request
def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if response.mimetype not in ("text/css", "text/javascript"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 404:
        return _message(404, "Payment not found", NOT_FOUND)
    return _message(exc.code or 500, exc.name, "Go back to the shop and try again.")


@bp.errorhandler(Exception)
def _crash(_exc: Exception):
    log.exception("checkout page failed")
    return _message(500, "Something went wrong", UNAVAILABLE)


def _message(status: int, headline: str, detail: str) -> tuple[str, int]:
    return render_template("checkout/message.html", headline=headline, detail=detail), status


@bp.get("/<order_id>")
def page(order_id: str):
    """The order as the buyer pays it."""
    order = _load(order_id)
    state = buyer_state(order)
    payment_uri = _uri_to_pay(order)
    return render_template(
        "checkout/pay.html",
        order=order,
        state=state,
        symbol=SYMBOL,
        network=network_label(order.chain),
        payment_uri=payment_uri,
        qr_svg=_qr(payment_uri),
        poll_seconds=POLL_SECONDS,
    )


@bp.get("/<order_id>/status.json")
def status(order_id: str):
    """The order's live state for the page's poller."""
    return buyer_state(_load(order_id))


def buyer_state(order: Order) -> dict[str, Any]:
    """Status, amounts and the words to show the buyer; the page and the poller share it."""
    decimals = order.decimals
    now = utcnow()
    state = order.status
    if state == "pending" and order.expires_at <= now:
        state = "expired"  # the watcher expires it on its next step; nobody should pay now
    remaining = max(0, order.amount - order.amount_seen)
    shown = orders.serialize(order)
    headline, detail = _words(state, order, remaining)
    return {
        "status": state,
        "amount": shown["amount"],
        "amount_received": shown["amount_received"],
        "amount_remaining": to_decimal_string(remaining, decimals),
        "expires_at": shown["expires_at"],
        "expires_in": max(0, int((order.expires_at - now).total_seconds())),
        "flags": [flag for flag in ("underpaid", "overpaid", "late") if shown[flag]],
        "headline": headline,
        "detail": detail,
    }


def network_label(chain: str) -> str:
    """``"Ethereum (ERC-20)"``: the network as a buyer's wallet names it."""
    settings = current_app.config["GATEWAY"]["chains"].get(chain, {})
    standard = "BEP-20" if chain == "bsc" else STANDARDS.get(settings.get("driver", ""))
    name = NETWORKS.get(chain, chain.replace("_", " ").replace("-", " ").title())
    return f"{name} ({standard})" if standard else name


def _words(state: str, order: Order, remaining: int) -> tuple[str, str]:
    def usdt(units: int) -> str:
        return f"{to_decimal_string(units, order.decimals)} {SYMBOL}"

    received, due = order.amount_seen, order.amount
    if state == "pending" and received:
        return "Partly paid", f"{usdt(received)} received. Send the missing {usdt(remaining)}."
    if state == "pending":
        return "Waiting for payment", "Send the exact amount below. This page updates itself."
    if state == "confirming":
        return "Payment received", (
            f"{usdt(received)} arrived. Waiting for network confirmations; "
            "this usually takes a few minutes."
        )
    if state == "paid":
        extra = f" You sent {usdt(received - due)} more than due." if received > due else ""
        return "Paid", f"Thank you: your payment of {usdt(due)} is confirmed.{extra}"
    if state == "cancelled":
        return "Cancelled", "This payment request was cancelled. Do not send money to it."
    missing = f" {usdt(received)} received, {usdt(remaining)} missing." if received else ""
    return "Expired", f"This payment request has expired. Do not send money to it.{missing}"


def _uri_to_pay(order: Order) -> str:
    """The payment URI of what is still due: a partly paid order asks only for the rest."""
    driver = drivers().get(order.chain)
    if driver is None or order.amount_seen == 0 or order.amount_seen >= order.amount:
        return order.payment_uri
    return driver.payment_uri(order.address, order.amount - order.amount_seen)


def _qr(text: str) -> str:
    code = segno.make(text, error="m")
    return code.svg_inline(
        scale=1,
        border=4,
        dark="#0b1220",
        light="#ffffff",
        omitsize=True,
        svgclass="qr",
        title="QR code of the payment request",
    )


def _load(order_id: str) -> Order:
    order = db.session().scalar(sa.select(Order).where(Order.id == order_id))
    if order is None:
        abort(404)
    return order
