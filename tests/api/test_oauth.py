"""OAuth 2.0 client credentials end to end: clients, tokens, JWKS, rotation, refusals;
API keys with an expiry."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa

from gateway.core.models import ApiKey, utcnow
from gateway.core.oauth import tokens
from gateway.core.oauth.models import SigningKey
from gateway.web import db
from gateway.web.oauth import issuer

ORDERS = "/api/v1/orders"


@pytest.fixture
def chain_settings():
    """No chain is needed here."""
    return {}


@pytest.fixture
def merchant(make_merchant):
    """A merchant with every scope and no xpub."""
    return make_merchant("shop", xpubs={})


@pytest.fixture
def oauth_client(runner, merchant):
    """(id, secret) of a client of ``merchant`` that may read orders and webhooks."""
    result = runner.invoke(
        args=["oauth", "client-create", merchant.id, "--scopes", "orders:read,webhooks:read"]
    )
    assert result.exit_code == 0, result.output
    lines = dict(line.split() for line in result.output.strip().splitlines())
    return lines["client_id"], lines["client_secret"]


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _token(client, oauth_client, **form) -> str:
    answer = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        headers=_basic(*oauth_client),
    )
    assert answer.status_code == 200, answer.json
    return answer.json["access_token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_client_gets_a_signed_short_lived_token_and_uses_it(app, client, oauth_client):
    answer = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic(*oauth_client)
    )
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 600)
    assert body["scope"] == "orders:read webhooks:read"
    header = jwt.get_unverified_header(body["access_token"])
    assert (header["alg"], header["typ"]) == ("RS256", "at+jwt")
    # anyone can verify it with the published keys (RFC 9068)
    jwks = client.get("/oauth/jwks.json").json["keys"]
    jwk = next(k for k in jwks if k["kid"] == header["kid"])
    assert "d" not in jwk  # the public half only
    claims = jwt.decode(
        body["access_token"],
        jwt.algorithms.RSAAlgorithm.from_jwk(jwk),
        algorithms=["RS256"],
        audience="http://127.0.0.1:5000/api",
        issuer="http://127.0.0.1:5000",
    )
    assert claims["client_id"] == claims["sub"] == oauth_client[0]
    assert claims["exp"] - claims["iat"] == 600
    assert client.get(ORDERS, headers=_bearer(body["access_token"])).status_code == 200
    refused = client.post(ORDERS, json={}, headers=_bearer(body["access_token"]))
    assert (refused.status_code, refused.json["code"]) == (403, "insufficient_scope")
    meta = client.get("/.well-known/oauth-authorization-server").json
    assert meta["token_endpoint"].endswith("/oauth/token")
    assert meta["jwks_uri"].endswith("/oauth/jwks.json")


def test_client_secret_post_and_fewer_scopes(client, oauth_client):
    answer = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": oauth_client[0],
            "client_secret": oauth_client[1],
            "scope": "webhooks:read",
        },
    )
    assert answer.json["scope"] == "webhooks:read"
    token = answer.json["access_token"]
    refused = client.get(ORDERS, headers=_bearer(token))
    assert (refused.status_code, refused.json["code"]) == (403, "insufficient_scope")


@pytest.mark.parametrize(
    ("form", "secret", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, "wrong", 401, "invalid_client"),
        ({"grant_type": "password"}, None, 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "scope": "payouts:write"},
            None,
            400,
            "invalid_scope",
        ),
    ],
)
def test_token_refusals_follow_rfc_6749(client, oauth_client, form, secret, status, error):
    answer = client.post(
        "/oauth/token", data=form, headers=_basic(oauth_client[0], secret or oauth_client[1])
    )
    assert (answer.status_code, answer.json["error"]) == (status, error)


def test_an_expired_token_is_refused(client, oauth_client, monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 700)
    token = _token(client, oauth_client)
    monkeypatch.setattr(time, "time", real)
    answer = client.get(ORDERS, headers=_bearer(token))
    assert (answer.status_code, answer.json["code"]) == (401, "invalid_token")
    assert "expired" in answer.json["message"]


def test_a_token_for_another_audience_is_refused(app, client, oauth_client):
    _token(client, oauth_client)  # makes the signing key
    with app.app_context(), db.transaction() as session:
        ours = issuer()
        elsewhere = tokens.Issuer(ours.issuer, "https://other.example/api", ours.sealer)
        client_row = tokens.authenticate_client(session, *oauth_client)
        token = tokens.issue(session, elsewhere, client_row, ["orders:read"])
    answer = client.get(ORDERS, headers=_bearer(token))
    assert (answer.status_code, answer.json["code"]) == (401, "invalid_token")
    assert "audience" in answer.json["message"]


def test_a_forged_or_tampered_token_is_refused(client, oauth_client):
    token = _token(client, oauth_client)
    head, claims, signature = token.split(".")
    tampered = f"{head}.{claims}.{signature[:-4]}AAAA"
    assert client.get(ORDERS, headers=_bearer(tampered)).status_code == 401
    forged = jwt.encode(
        {"sub": oauth_client[0]}, "s" * 32, algorithm="HS256", headers={"typ": "at+jwt"}
    )
    assert client.get(ORDERS, headers=_bearer(forged)).status_code == 401


def test_a_rotated_key_verifies_until_its_tokens_expire_then_goes(
    app, client, runner, oauth_client
):
    old = _token(client, oauth_client)
    result = runner.invoke(args=["oauth", "rotate-key"])
    assert result.exit_code == 0, result.output
    new = _token(client, oauth_client)
    old_kid, new_kid = (jwt.get_unverified_header(t)["kid"] for t in (old, new))
    assert old_kid != new_kid
    assert {k["kid"] for k in client.get("/oauth/jwks.json").json["keys"]} == {old_kid, new_kid}
    assert client.get(ORDERS, headers=_bearer(old)).status_code == 200
    assert client.get(ORDERS, headers=_bearer(new)).status_code == 200
    with app.app_context(), db.transaction() as session:
        session.execute(
            sa.update(SigningKey)
            .where(SigningKey.kid == old_kid)
            .values(retired_at=utcnow() - timedelta(minutes=11))
        )
    assert [k["kid"] for k in client.get("/oauth/jwks.json").json["keys"]] == [new_kid]
    refused = client.get(ORDERS, headers=_bearer(old))
    assert (refused.status_code, refused.json["code"]) == (401, "invalid_token")
    assert client.get(ORDERS, headers=_bearer(new)).status_code == 200


def test_a_revoked_client_loses_its_tokens_at_once(client, runner, oauth_client):
    token = _token(client, oauth_client)
    assert runner.invoke(args=["oauth", "client-revoke", oauth_client[0]]).exit_code == 0
    assert client.get(ORDERS, headers=_bearer(token)).status_code == 401
    answer = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic(*oauth_client)
    )
    assert answer.json["error"] == "invalid_client"


def test_the_client_ip_allow_list_holds_for_tokens(client, runner, merchant):
    result = runner.invoke(
        args=[
            "oauth",
            "client-create",
            merchant.id,
            "--scopes",
            "orders:read",
            "--allow-ip",
            "10.0.0.0/8",
        ]
    )
    lines = dict(line.split() for line in result.output.strip().splitlines())
    answer = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(lines["client_id"], lines["client_secret"]),
    )
    assert (answer.status_code, answer.json["error"]) == (400, "invalid_client")


def test_the_client_secret_is_stored_hashed(app, oauth_client):
    from gateway.core.oauth.models import OAuthClient

    with app.app_context():
        row = db.session().scalar(sa.select(OAuthClient))
    assert oauth_client[1] not in row.secret_hash


def test_an_api_key_near_its_expiry_warns_and_an_expired_one_is_refused(app, client, merchant):
    with app.app_context(), db.transaction() as session:
        session.execute(sa.update(ApiKey).values(expires_at=utcnow() + timedelta(days=3)))
    answer = client.get(ORDERS, headers=merchant.headers)
    assert answer.status_code == 200
    assert answer.headers["API-Key-Expires"].endswith("GMT")
    assert answer.headers["Warning"].startswith('299 - "this API key expires on')
    with app.app_context(), db.transaction() as session:
        session.execute(sa.update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    refused = client.get(ORDERS, headers=merchant.headers)
    assert (refused.status_code, refused.json["code"]) == (401, "api_key_expired")


def test_a_key_far_from_its_expiry_does_not_warn(app, client, runner, merchant):
    result = runner.invoke(
        args=["key", "create", merchant.id, "--scopes", "orders:read", "--expires-in-days", "90"]
    )
    key = result.output.strip()
    answer = client.get(ORDERS, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    assert "API-Key-Expires" in answer.headers and "Warning" not in answer.headers
