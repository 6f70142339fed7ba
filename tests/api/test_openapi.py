"""The OpenAPI document validates and documents every route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

METHODS = {"get", "post", "put", "patch", "delete"}


def test_openapi_document_is_valid_and_every_route_has_a_summary(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    assert ("/api/v1/orders", "post") in {(p, m) for p, m, _ in operations}
    for path, method, op in operations:
        assert op.get("summary"), f"{method.upper()} {path} has no summary"
        assert "\n" not in op["summary"]


def test_every_api_route_is_documented(app, client):
    spec = client.get("/api/openapi.json").json
    documented = {(p, m.upper()) for p, item in spec["paths"].items() for m in item if m in METHODS}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<string:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not documented"


def test_docs_ui_is_served_from_the_app_alone(client):
    """A public page: every script and style comes from the gateway, none from a CDN."""
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, page
    for asset in assets:
        assert asset.startswith("/api/docs/"), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
        assert fetched.mimetype in ("text/css", "text/javascript", "image/png"), asset
    assert "<script>" not in page  # no inline script: the CSP allows none
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "http" not in policy
    assert b"swagger-ui" in response.data
    assert b"/api/openapi.json" in response.data
