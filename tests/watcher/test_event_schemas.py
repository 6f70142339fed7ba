"""Every event a shop can receive is what the OpenAPI document says it is.

The events come from real histories on the devnet (paid, under- and overpaid, expired,
cancelled, reverted); each webhook body is checked against its documented schema.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from openapi_schema_validator import OAS31Validator

from gateway.core.models import Event
from gateway.core.schemas import EVENT_SCHEMAS
from gateway.web import db
from webhooks.jobs import payload

USDT = 10**6
COMPONENT = {"OrderEventSchema": "OrderEvent", "PaymentEventSchema": "PaymentEvent"}


def every_kind_of_event(shop) -> None:
    """Histories that between them raise each event type."""
    paid, under, over, gone = (shop.order(a) for a in ("10", "10", "10", "5"))
    shop.pay(paid, 10 * USDT)
    shop.pay(under, 4 * USDT)
    shop.pay(over, 11 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    cancelled = shop.order("1")
    shop.client.post(f"/api/v1/orders/{cancelled['id']}/cancel", headers=shop.merchant.headers)
    expired = shop.order("1")
    shop.expire_now(expired["id"])
    before = shop.devnet.snapshot()
    shop.pay(gone, 5 * USDT)
    shop.sync()
    shop.devnet.revert(before)  # the payment's block leaves the chain
    shop.devnet.mine(3)
    shop.sync()


def test_every_event_type_matches_its_documented_schema(shop, client):
    every_kind_of_event(shop)
    spec = client.get("/api/openapi.json").json
    with shop.app.app_context():
        events = db.session().scalars(sa.select(Event).order_by(Event.seq)).all()
    assert {e.type for e in events} == set(EVENT_SCHEMAS)  # every order and payment type
    for event in events:
        name = COMPONENT[EVENT_SCHEMAS[event.type].__name__]
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        body = json.loads(payload(event.type, event.created_at, event.data))
        errors = list(OAS31Validator(schema).iter_errors(body))
        assert errors == [], (event.type, [e.message for e in errors])
        # a documented field in every body, and nothing undocumented in the order
        properties = spec["components"]["schemas"]["Order"]["properties"]
        order = body["data"] if event.type.startswith("order.") else body["data"]["order"]
        assert set(order) == set(properties), event.type


def test_the_api_shows_what_the_webhook_shows(shop, client):
    order = shop.order("10")
    shop.pay(order, 10 * USDT)
    shop.sync()
    with shop.app.app_context():
        last = db.session().scalars(sa.select(Event).order_by(Event.seq.desc())).first()
    answered = client.get(f"/api/v1/orders/{order['id']}", headers=shop.merchant.headers).json
    assert last.type == "payment.received"
    assert last.data["order"] == answered
