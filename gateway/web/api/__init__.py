"""The JSON API under /api/v1, documented with OpenAPI by flask-smorest."""

from __future__ import annotations

from flask import Flask

from gateway.core.schemas import OrderEventSchema, PaymentEventSchema, PingEventSchema
from gateway.core.wallet.schemas import (
    DepositEventSchema,
    LowGasEventSchema,
    PayoutEventSchema,
)
from gateway.web.api.address_book.resources import blp as address_book_blp
from gateway.web.api.audit.resources import blp as audit_blp
from gateway.web.api.balances.resources import blp as balances_blp
from gateway.web.api.base import Api
from gateway.web.api.events import socket as events_socket
from gateway.web.api.events.resources import blp as events_blp
from gateway.web.api.orders.resources import blp as orders_blp
from gateway.web.api.payout_policy.resources import blp as payout_policy_blp
from gateway.web.api.payout_wallets.resources import blp as payout_wallets_blp
from gateway.web.api.payouts.resources import blp as payouts_blp
from gateway.web.api.refunds.resources import blp as refunds_blp
from gateway.web.api.transactions.resources import blp as transactions_blp
from gateway.web.api.webhooks.resources import deliveries_blp, endpoints_blp


def init_app(app: Flask) -> Api:
    """Register the API blueprints and the OpenAPI document (/api/openapi.json)."""
    app.config.update(
        API_TITLE="USDT Gateway API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Create USDT orders and follow their payments; see balances,"
                " the ledger, and pay out from a payout wallet."
            },
            "components": {
                "securitySchemes": {
                    "apiKey": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API key created with `gateway key create`.",
                    },
                }
            },
            "security": [{"apiKey": []}],
        },
    )
    api = Api(app)
    # webhook bodies are documented beside the API answers, from the same schemas
    api.spec.components.schema("OrderEvent", schema=OrderEventSchema)
    api.spec.components.schema("PaymentEvent", schema=PaymentEventSchema)
    api.spec.components.schema("PayoutEvent", schema=PayoutEventSchema)
    api.spec.components.schema("DepositEvent", schema=DepositEventSchema)
    api.spec.components.schema("LowGasEvent", schema=LowGasEventSchema)
    api.spec.components.schema("PingEvent", schema=PingEventSchema)
    api.register_blueprint(orders_blp, url_prefix="/api/v1/orders")
    api.register_blueprint(endpoints_blp, url_prefix="/api/v1/webhook-endpoints")
    api.register_blueprint(deliveries_blp, url_prefix="/api/v1/webhook-deliveries")
    api.register_blueprint(events_blp, url_prefix="/api/v1/events")
    events_socket.init_app(app, api)  # the stream over a WebSocket, a plain Flask view
    # the back office
    api.register_blueprint(balances_blp, url_prefix="/api/v1/balances")
    api.register_blueprint(transactions_blp, url_prefix="/api/v1/transactions")
    api.register_blueprint(payout_wallets_blp, url_prefix="/api/v1/payout-wallets")
    api.register_blueprint(payouts_blp, url_prefix="/api/v1/payouts")
    api.register_blueprint(refunds_blp, url_prefix="/api/v1/orders")
    api.register_blueprint(address_book_blp, url_prefix="/api/v1/address-book")
    api.register_blueprint(payout_policy_blp, url_prefix="/api/v1/payout-policy")
    api.register_blueprint(audit_blp, url_prefix="/api/v1/audit-log")
    app.extensions["gateway.api"] = api
    return api
