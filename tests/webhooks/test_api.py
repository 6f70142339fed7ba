"""The webhook endpoint and delivery API: validation, secrets, isolation, pagination."""

from __future__ import annotations

import pytest

from gateway.cli.worker import dispatch_once

ENDPOINTS = "/api/v1/webhook-endpoints"
DELIVERIES = "/api/v1/webhook-deliveries"


def _create(client, merchant, **body):
    body = {"url": "http://93.184.216.34/hook", "event_types": ["order.paid"], **body}
    return client.post(ENDPOINTS, json=body, headers=merchant.headers)


def test_create_shows_the_secret_once(client, merchant):
    created = _create(client, merchant, description="shop", event_types=["*", "*"])
    assert created.status_code == 201
    assert created.json["secret"].startswith("whsec_")
    assert created.json["event_types"] == ["*"]
    assert created.json["id"].startswith("whk_")
    got = client.get(f"{ENDPOINTS}/{created.json['id']}", headers=merchant.headers)
    assert got.status_code == 200
    assert "secret" not in got.json
    listed = client.get(ENDPOINTS, headers=merchant.headers)
    assert "secret" not in listed.json["data"][0]


def test_create_is_idempotent(client, merchant):
    headers = {**merchant.headers, "Idempotency-Key": "k1"}
    body = {"url": "http://93.184.216.34/hook", "event_types": ["order.paid"]}
    first = client.post(ENDPOINTS, json=body, headers=headers)
    again = client.post(ENDPOINTS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    assert len(client.get(ENDPOINTS, headers=merchant.headers).json["data"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"event_types": ["order.exploded"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"colour": "red"}, "colour"),
        ({"enabled": "maybe"}, "enabled"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, merchant, body, field):
    answer = _create(client, merchant, **body)
    assert answer.status_code == 422
    assert answer.json["code"] == "validation_error"
    assert field in answer.json["errors"]


@pytest.fixture
def app_config(app_config):
    """The API tests run with the SSRF guard on, as in production."""
    app_config["webhooks"]["allow_private_targets"] = False
    return app_config


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://localhost:8080/x",
        "http://[::1]/",
        "http://224.0.0.1/",
    ],
)
def test_private_targets_are_refused(client, merchant, url):
    answer = _create(client, merchant, url=url)
    assert answer.status_code == 422
    assert answer.json["code"] == "url_not_allowed"
    assert "url" in answer.json["errors"]


def test_update_rotate_delete(client, merchant):
    endpoint = _create(client, merchant, url="http://93.184.216.34/hook").json
    path = f"{ENDPOINTS}/{endpoint['id']}"
    patched = client.patch(
        path,
        json={"event_types": ["order.created"], "description": "new", "enabled": False},
        headers=merchant.headers,
    )
    assert patched.status_code == 200
    assert patched.json["event_types"] == ["order.created"]
    assert patched.json["enabled"] is False
    refused = client.patch(path, json={"url": "http://10.1.2.3/"}, headers=merchant.headers)
    assert refused.status_code == 422 and refused.json["code"] == "url_not_allowed"
    enabled = client.patch(path, json={"enabled": True}, headers=merchant.headers)
    assert enabled.json["enabled"] is True and enabled.json["disabled_reason"] is None

    rotated = client.post(f"{path}/rotate-secret", headers=merchant.headers)
    assert rotated.status_code == 200
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != endpoint["secret"]
    assert rotated.json["previous_secret_expires_at"] is not None

    assert client.delete(path, headers=merchant.headers).status_code == 204
    assert client.get(path, headers=merchant.headers).status_code == 404


def test_pagination(client, merchant):
    ids = [_create(client, merchant, url=f"http://93.184.216.34/{n}").json["id"] for n in range(3)]
    first = client.get(f"{ENDPOINTS}?limit=2", headers=merchant.headers).json
    assert [e["id"] for e in first["data"]] == ids[:0:-1]
    assert first["has_more"] is True
    rest = client.get(f"{ENDPOINTS}?limit=2&starting_after={ids[1]}", headers=merchant.headers).json
    assert [e["id"] for e in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False
    bad = client.get(f"{ENDPOINTS}?colour=red", headers=merchant.headers)
    assert bad.status_code == 422


def test_auth_and_scopes(client, make_merchant):
    assert client.get(ENDPOINTS).status_code == 401
    reader = make_merchant("reader", scopes="webhooks:read", xpubs={})
    assert client.get(ENDPOINTS, headers=reader.headers).status_code == 200
    answer = _create(client, reader)
    assert answer.status_code == 403
    assert answer.json["code"] == "insufficient_scope"
    orders_only = make_merchant("orders", scopes="orders:read", xpubs={})
    assert client.get(DELIVERIES, headers=orders_only.headers).status_code == 403


def test_deliveries_and_cross_merchant_isolation(
    client, merchant, other_merchant, emit, local_runtime
):
    endpoint = _create(client, merchant, url="http://93.184.216.34/h", event_types=["*"]).json
    event_id = emit(merchant.id)
    assert dispatch_once() == 1
    listed = client.get(
        f"{DELIVERIES}?endpoint_id={endpoint['id']}&status=pending", headers=merchant.headers
    ).json["data"]
    [delivery] = listed
    assert delivery["event_id"] == event_id
    assert (
        client.get(f"{DELIVERIES}?event_id=evt_nope", headers=merchant.headers).json["data"] == []
    )
    assert client.get(f"{DELIVERIES}?status=lost", headers=merchant.headers).status_code == 422
    detail = client.get(f"{DELIVERIES}/{delivery['id']}", headers=merchant.headers)
    assert detail.status_code == 200 and detail.json["attempts"] == []

    other = other_merchant.headers
    for method, path in [
        ("get", f"{ENDPOINTS}/{endpoint['id']}"),
        ("patch", f"{ENDPOINTS}/{endpoint['id']}"),
        ("delete", f"{ENDPOINTS}/{endpoint['id']}"),
        ("post", f"{ENDPOINTS}/{endpoint['id']}/rotate-secret"),
        ("get", f"{DELIVERIES}/{delivery['id']}"),
        ("post", f"{DELIVERIES}/{delivery['id']}/redeliver"),
    ]:
        kwargs = {"json": {"description": "x"}} if method == "patch" else {}
        answer = getattr(client, method)(path, headers=other, **kwargs)
        assert answer.status_code == 404, (method, path)
        assert answer.json["code"].endswith("_not_found")
    assert client.get(DELIVERIES, headers=other).json["data"] == []
    assert client.get(ENDPOINTS, headers=other).json["data"] == []
