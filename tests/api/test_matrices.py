"""Two matrices over every route of the url_map, so that a new route cannot escape them:

- scopes: each API route, called with a key that has every scope but the one it needs
  (and the write scope that would imply it), is 403 ``insufficient_scope``;
- IDOR: each API route with an id, called by a merchant with another merchant's id, is 404.

A route the matrices do not cover must be public or the dashboard's (session login, its
own tests), and listed here.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.core import events
from gateway.web import auth, db
from tests.api import back_office as bo
from tests.api.routes import Route, routes
from webhooks.models import Delivery

API = "/api/v1/"
# routes outside the matrices: what anyone may read, and the dashboard (session login)
PUBLIC = ("/healthz", "/readyz", "/metrics", "/oauth/", "/.well-known/", "/api/docs")
PUBLIC_EXACT = ("/api/openapi.json",)
ELSEWHERE = ("/pay/", "/static/", "/dashboard/")

# valid bodies, so that a refusal comes from the id and not from the input
BODIES = {
    "PATCH /api/v1/webhook-endpoints/<string:endpoint_id>": {"description": "x"},
    "POST /api/v1/orders/<string:order_id>/refunds": {"to": bo.somebody(), "amount": "1"},
    "POST /api/v1/payouts/<string:payout_id>/signed": {"raw": "0x00"},
}


@pytest.fixture
def app_config(app_config, monkeypatch):
    """Hot wallets on, for the other merchant's payout."""
    return bo.with_passphrase(app_config, monkeypatch)


def required_scope(app, route: Route) -> str | None:
    """The scope the view of ``route`` asks for (set by ``auth.require``), or None."""
    view = app.view_functions[route.endpoint]
    method = getattr(getattr(view, "view_class", None), route.method.lower(), view)
    return getattr(method, "required_scope", None)


def test_every_route_is_scoped_public_or_elsewhere(app):
    loose = []
    for route in routes(app):
        if required_scope(app, route):
            assert route.rule.startswith(API), route
        elif not (route.rule.startswith(PUBLIC + ELSEWHERE) or route.rule in PUBLIC_EXACT):
            loose.append(str(route))
    assert loose == []


def test_a_key_without_the_scope_is_403_on_every_route(app, client, make_merchant):
    keys: dict[str, dict[str, str]] = {}
    checked = 0
    for route in routes(app):
        scope = required_scope(app, route)
        if scope is None:
            continue
        implying = {scope, scope.replace(":read", ":write")}
        if scope not in keys:
            others = [s for s in auth.SCOPES if s not in implying]
            keys[scope] = make_merchant(f"no-{scope}", scopes=",".join(others), xpubs={}).headers
        url = route.url(**{name: "x_1" for name in route.arguments})
        answer = client.open(url, method=route.method, json={}, headers=keys[scope])
        assert (answer.status_code, answer.json["code"]) == (403, "insufficient_scope"), route
        assert scope in answer.json["message"]
        checked += 1
    assert checked >= 30


@pytest.fixture
def theirs(app, client, make_merchant, devnet, evm_snapshot) -> dict[str, str]:
    """One object of each kind a route names by id, all another merchant's."""
    other = make_merchant("other")
    order = client.post(
        "/api/v1/orders",
        json={"amount": "5", "chain": "devnet", "reference": "theirs"},
        headers=other.headers,
    ).json
    endpoint = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": "https://shop.example/hook", "event_types": ["*"]},
        headers=other.headers,
    ).json
    with app.app_context(), db.transaction() as session:
        event = events.record(session, other.id, "order.created", {"id": order["id"]})
        session.flush()
        delivery = Delivery(merchant_id=other.id, event_id=event.id, endpoint_id=endpoint["id"])
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    wallet = bo.funded_wallet(app, client, other, devnet)
    payout = client.post(bo.PAYOUTS, json=bo.payout_body(), headers=other.headers)
    assert payout.status_code == 201, payout.json
    entry = client.post(
        bo.ADDRESS_BOOK, json={"chain": "devnet", "address": bo.somebody()}, headers=other.headers
    )
    assert entry.status_code == 201, entry.json
    return {
        "order_id": order["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery_id,
        "wallet_id": wallet["id"],
        "payout_id": payout.json["id"],
        "entry_id": entry.json["id"],
    }


def test_another_merchants_ids_are_404_on_every_route(app, client, merchant, theirs):
    answers = {}
    for route in routes(app):
        if not route.arguments or required_scope(app, route) is None:
            continue
        missing = set(route.arguments) - set(theirs)
        assert not missing, f"{route}: make another merchant's {missing} in the fixture"
        url = route.url(**theirs)
        body = BODIES.get(str(route), {})
        answers[str(route)] = client.open(
            url, method=route.method, json=body, headers=merchant.headers
        ).status_code
    assert {route: status for route, status in answers.items() if status != 404} == {}
    assert len(answers) >= 15
    with app.app_context():
        # nothing of theirs changed: the order is still pending, the endpoint still there
        from gateway.core.models import Order

        status = db.session().scalar(sa.select(Order.status).where(Order.id == theirs["order_id"]))
        assert status == "pending"
