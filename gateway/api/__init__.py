"""The JSON API under /api/v1, documented with OpenAPI by flask-smorest."""

from __future__ import annotations

from flask import Flask

from gateway.api.base import Api, refuse_nul
from gateway.api.orders.resources import blp as orders_blp
from gateway.api.webhooks.resources import deliveries_blp, endpoints_blp

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"


def init_app(app: Flask) -> Api:
    """Register the API blueprints and the docs (JSON at /api/openapi.json, UI at /api/docs)."""
    app.config.update(
        API_TITLE="USDT Gateway API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI,
        API_SPEC_OPTIONS={
            "info": {"description": "Create USDT orders and follow their payments."},
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
    app.before_request(refuse_nul)
    api.register_blueprint(orders_blp, url_prefix="/api/v1/orders")
    api.register_blueprint(endpoints_blp, url_prefix="/api/v1/webhook-endpoints")
    api.register_blueprint(deliveries_blp, url_prefix="/api/v1/webhook-deliveries")
    app.extensions["gateway.api"] = api
    return api
