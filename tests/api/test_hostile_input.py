"""Input no database can hold, or that Python refuses to parse, is a 4xx, never a 500."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from gateway.core.models import Order
from gateway.web import db
from tests.api.routes import routes

ORDERS = "/api/v1/orders"
VALID = '{"amount": "1", "chain": "devnet", "reference": "r"'


@pytest.mark.parametrize(
    "body",
    [
        VALID.replace('"r"', '"r\\u0000x"') + "}",  # NUL in a string
        VALID.replace('"r"', '"\\ud800"') + "}",  # a lone surrogate
        VALID + ', "metadata": {"n": NaN}}',
        VALID + ', "metadata": {"n": Infinity}}',
        VALID + ', "metadata": {"n": 1e999}}',
        VALID + ', "metadata": {"n": ' + "9" * 5000 + "}}",  # beyond Python's int limit
        VALID + ', "metadata": {"k\\u0000": 1}}',  # NUL in a key
        b'{"amount": "\xff"}',  # not UTF-8
    ],
)
def test_unacceptable_json_is_400(app, client, merchant, body):
    response = client.post(
        ORDERS, data=body, headers=merchant.headers, content_type="application/json"
    )
    assert response.status_code == 400, response.json
    assert response.json["code"] == "invalid_json"
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_deeply_nested_json_is_refused(client, merchant):
    body = "[" * 30_000 + "]" * 30_000
    response = client.post(
        ORDERS, data=body, headers=merchant.headers, content_type="application/json"
    )
    assert response.status_code in (400, 422)


@pytest.mark.parametrize(
    "path",
    [
        ORDERS + "/ord_%00x",
        ORDERS + "/ord_%00x/payments",
        ORDERS + "?reference=a%00b",
        ORDERS + "?starting_after=%00",
        "/api/v1/webhook-endpoints/whk_%00",
        "/api/v1/webhook-deliveries?status=%00",
    ],
)
def test_nul_in_the_url_is_400(client, merchant, path):
    response = client.get(path, headers=merchant.headers)
    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"


@pytest.mark.parametrize("header", ["Authorization", "Idempotency-Key"])
def test_nul_in_a_header_is_400_even_without_a_key(client, merchant, header):
    headers = {**merchant.headers, header: "gwk_ab\x00cd_x"}
    response = client.post(
        ORDERS, json={"amount": "1", "chain": "devnet", "reference": "r"}, headers=headers
    )
    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"


@pytest.mark.parametrize("amount", ["1\n", "9" * 5000])
def test_amounts_are_matched_whole_and_bounded(client, merchant, amount):
    response = client.post(
        ORDERS,
        json={"amount": amount, "chain": "devnet", "reference": "r"},
        headers=merchant.headers,
    )
    assert response.status_code == 422
    assert "amount" in response.json["errors"]
    assert "sys.set_int_max_str_digits" not in response.json["message"]


def test_the_documented_error_schema_is_the_one_returned(client):
    spec = client.get("/api/openapi.json").json
    error = spec["components"]["schemas"]["ApiError"]["properties"]
    assert (error["code"]["type"], error["status"]["type"]) == ("string", "integer")
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]
    assert default["schema"]["$ref"].endswith("/ApiError")


def test_nul_anywhere_in_the_url_of_any_route_is_400_never_500(app, client, merchant, caplog):
    """Every rule of the url_map, public pages included: a NUL in each variable part, or in
    the query of a rule without one, is refused before it reaches a view or the database."""
    caplog.set_level(logging.ERROR)
    answers = {}
    for route in routes(app):
        if route.arguments:
            url = route.url(**{name: "ord_%00x" for name in route.arguments})
        else:
            url = route.rule + "?q=%00"
        response = client.open(url, method=route.method, headers=merchant.headers)
        answers[str(route)] = response.status_code
    assert {route: status for route, status in answers.items() if status != 400} == {}
    assert "/pay/<order_id>" in " ".join(answers)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_nul_in_a_checkout_url_is_a_friendly_page(client):
    for url in ("/pay/ord_%00x", "/pay/%00/status.json"):
        response = client.get(url)
        assert response.status_code == 400
        assert response.mimetype == "text/html"
