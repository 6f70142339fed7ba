"""The checkout page and its status feed: what a buyer needs to pay, and nothing private."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import segno
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, render_template, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from gateway.core import schemas
from gateway.core.accounts import settings as merchant_settings
from gateway.core.models import Order, utcnow
from gateway.core.money import to_decimal_string
from gateway.web import db, streams
from gateway.web.chains import drivers
from gateway.web.etags import conditional
from gateway.web.i18n import money

log = logging.getLogger(__name__)

PREFIX = "/pay"
POLL_SECONDS = 4
# states after which nothing the buyer sees changes: the stream ends, the page stops asking
FINAL = ("paid", "cancelled")
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

NOT_FOUND = _l(
    "This payment link is wrong or no longer exists. Check the link you were given or "
    "start the payment again from the shop. Send no money until this page shows the "
    "amount and the address."
)
UNAVAILABLE = _l("This page is unavailable for a moment. Send no money now; reload in a minute.")

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
    logo = g.get("logo_origin")
    if logo:
        # the merchant's logo is the one image the page loads from elsewhere
        csp = SECURITY_HEADERS["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = csp.replace(
            "img-src 'self' data:", f"img-src 'self' data: {logo}"
        )
    if response.mimetype not in ("text/css", "text/javascript"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 404:
        return _message(404, _("Payment not found"), NOT_FOUND)
    return _message(exc.code or 500, exc.name, _("Go back to the shop and try again."))


@bp.errorhandler(Exception)
def _crash(_exc: Exception):
    log.exception("checkout page failed")
    return _message(500, _("Something went wrong"), UNAVAILABLE)


def _message(status: int, headline: str, detail: str) -> tuple[str, int]:
    return render_template("checkout/message.html", headline=headline, detail=detail), status


@bp.get("/<order_id>")
def page(order_id: str):
    """The order as the buyer pays it."""
    order = _load(order_id)
    state = buyer_state(order)
    payment_uri = _uri_to_pay(order)
    brand = merchant_settings.of(db.session(), order.merchant_id)
    if brand.logo_url:
        parts = urlsplit(brand.logo_url)
        g.logo_origin = f"{parts.scheme}://{parts.netloc}"
    return render_template(
        "checkout/pay.html",
        order=order,
        brand=brand,
        state=state,
        symbol=SYMBOL,
        network=network_label(order.chain),
        payment_uri=payment_uri,
        qr_svg=_qr(payment_uri),
        poll_seconds=POLL_SECONDS,
    )


@bp.get("/<order_id>/status.json")
def status(order_id: str):
    """The order's live state for the page's poller; 304 while it has not changed."""
    # the countdown moves every second; the poller keeps its own, so it is not in the ETag
    return conditional(buyer_state(_load(order_id)), ignore=("expires_in",))


@bp.get("/<order_id>/events")
def live(order_id: str):
    """The order's state pushed as it changes (Server-Sent Events ``state``); the page falls
    back to polling status.json when this is refused or unavailable."""
    merchant_id = _load(order_id).merchant_id
    db.session().close()  # the stream reads with sessions of its own
    slot = streams.take_slot(f"order:{order_id}", streams.settings()["streams_per_order"])
    if slot is None:
        return Response(status=503, headers={"Retry-After": "5"})
    sessions = current_app.extensions["db.sessionmaker"]
    shown: dict[str, Any] | None = None

    def read() -> tuple[list[str], bool, bool]:
        nonlocal shown
        with sessions() as session:
            state = buyer_state(session.scalar(sa.select(Order).where(Order.id == order_id)))
        # the countdown runs in the page; only a change of what it says is news
        now = {k: v for k, v in state.items() if k != "expires_in"}
        if now == shown:
            return [], False, False
        shown = now
        return [streams.message(state, event="state")], False, state["status"] in FINAL

    return streams.response(stream_with_context(streams.run(read, merchant_id, slot)))


def buyer_state(order: Order) -> dict[str, Any]:
    """Status, amounts and the words to show the buyer; the page and the poller share it."""
    decimals = order.decimals
    now = utcnow()
    state = order.status
    if state == "pending" and order.expires_at <= now:
        state = "expired"  # the watcher expires it on its next step; nobody should pay now
    remaining = max(0, order.amount - order.amount_seen)
    shown = schemas.ORDER.dump(order)
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
        return f"{money(to_decimal_string(units, order.decimals))} {SYMBOL}"

    received, due = order.amount_seen, order.amount
    if state == "pending" and received:
        return _("Partly paid"), _(
            "%(received)s received. Send the missing %(missing)s.",
            received=usdt(received),
            missing=usdt(remaining),
        )
    if state == "pending":
        return _("Waiting for payment"), _("Send the exact amount below. This page updates itself.")
    if state == "confirming":
        return _("Payment received"), _(
            "%(received)s arrived. Waiting for network confirmations; "
            "this usually takes a few minutes.",
            received=usdt(received),
        )
    if state == "paid":
        extra = (
            " " + _("You sent %(extra)s more than due.", extra=usdt(received - due))
            if received > due
            else ""
        )
        return _("Paid"), _(
            "Thank you: your payment of %(due)s is confirmed.", due=usdt(due)
        ) + extra
    if state == "cancelled":
        return _("Cancelled"), _("This payment request was cancelled. Do not send money to it.")
    missing = (
        " "
        + _(
            "%(received)s received, %(missing)s missing.",
            received=usdt(received),
            missing=usdt(remaining),
        )
        if received
        else ""
    )
    return _("Expired"), _("This payment request has expired. Do not send money to it.") + missing


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
        title=_("QR code of the payment request"),
    )


def _load(order_id: str) -> Order:
    order = db.session().scalar(sa.select(Order).where(Order.id == order_id))
    if order is None:
        abort(404)
    return order
