"""HTTP as the RFCs say: 405 names the allowed methods, 415 the expected media type,
and JSON input is as strict as the OpenAPI document claims."""

from __future__ import annotations

import pytest

from tests.api.routes import routes

ENDPOINTS = "/api/v1/webhook-endpoints"
HOOK = {"url": "https://shop.example/hook", "event_types": ["order.paid"]}


@pytest.fixture
def chain_settings():
    """No chain is needed here."""
    return {}


@pytest.fixture
def merchant(make_merchant):
    """A merchant with every scope and no xpub."""
    return make_merchant("shop", xpubs={})


def test_every_405_carries_the_allow_header(app, client, merchant):
    by_rule: dict[str, set[str]] = {}
    for route in routes(app):
        # a value each converter takes (the docs' assets are an any() of file names)
        values = {n: "swagger-ui.css" if n == "name" else "x_1" for n in route.arguments}
        by_rule.setdefault(route.url(**values), set()).add(route.method)
    for url, methods in by_rule.items():
        refused = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in methods)
        response = client.open(url, method=refused, headers=merchant.headers)
        assert response.status_code == 405, url
        assert response.json["code"] == "method_not_allowed"
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert methods <= allowed, (url, allowed)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415_naming_the_expected_type(client, merchant, content_type):
    response = client.post(
        ENDPOINTS, data='{"url": "x"}', headers=merchant.headers, content_type=content_type
    )
    assert response.status_code == 415
    assert response.json["code"] == "unsupported_media_type"
    assert "application/json" in response.json["message"]
    assert response.headers["Accept-Post"] == "application/json"


def test_json_with_a_charset_is_json(client, merchant):
    response = client.post(
        ENDPOINTS,
        data='{"url": "https://shop.example/a", "event_types": ["*"]}',
        headers=merchant.headers,
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 201


@pytest.mark.parametrize("enabled", [0, 1, "yes", "true", "on", "1", None])
def test_booleans_are_json_booleans_only(client, merchant, enabled):
    created = client.post(ENDPOINTS, json=HOOK, headers=merchant.headers)
    response = client.patch(
        f"{ENDPOINTS}/{created.json['id']}", json={"enabled": enabled}, headers=merchant.headers
    )
    assert response.status_code == 422, response.json
    assert "enabled" in response.json["errors"]
    refused = client.post(ENDPOINTS, json={**HOOK, "enabled": enabled}, headers=merchant.headers)
    assert refused.status_code == 422


def test_every_json_input_schema_is_strict(app):
    """Each body schema of the API, read from the views: booleans take only true/false and
    integers only JSON integers, as the OpenAPI document's types say."""
    import marshmallow as ma

    loose = []
    for route in routes(app):
        view = app.view_functions[route.endpoint]
        method = getattr(getattr(view, "view_class", None), route.method.lower(), view)
        for argument in getattr(method, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            if argument["in"] != "json":
                continue
            for path, field in _fields(argument["schema"]):
                if isinstance(field, ma.fields.Boolean):
                    lookalikes = (1, 0, "yes", "true")
                elif isinstance(field, ma.fields.Integer):
                    lookalikes = ("5", 5.0, True)
                else:
                    continue
                for value in lookalikes:
                    try:
                        field.deserialize(value)
                    except ma.ValidationError:
                        continue
                    loose.append(f"{route} {path}={value!r}")
    assert loose == []


def _fields(schema, prefix=""):
    import marshmallow as ma

    schema = schema() if isinstance(schema, type) else schema
    for name, field in schema.fields.items():
        yield prefix + name, field
        inner = getattr(field, "inner", None)
        if isinstance(inner, ma.fields.Nested):
            field = inner
        if isinstance(field, ma.fields.Nested):
            yield from _fields(field.schema, f"{prefix}{name}.")
