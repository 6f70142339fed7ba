"""The OAuth 2.0 token endpoint (client credentials), its JWKS and its metadata (RFC 8414)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

import marshmallow as ma
from flask import Flask, Response, current_app, jsonify, request
from flask.views import MethodView

from gateway.core.oauth import tokens
from gateway.core.sealing import Sealer
from gateway.web import db, ratelimit
from gateway.web.api.base import Blueprint

blp = Blueprint("oauth", __name__, description="OAuth 2.0 access tokens for platforms.")
GRANT = "client_credentials"


class TokenSchema(ma.Schema):
    """An access token (RFC 6749 section 5.1)."""

    access_token = ma.fields.String(metadata={"description": "A JWT (RFC 9068)."})
    token_type = ma.fields.String(metadata={"enum": ["Bearer"]})
    expires_in = ma.fields.Integer(metadata={"example": tokens.TOKEN_LIFETIME})
    scope = ma.fields.String(metadata={"example": "orders:read orders:write"})


class TokenErrorSchema(ma.Schema):
    """A refusal of the token endpoint (RFC 6749 section 5.2)."""

    error = ma.fields.String(
        metadata={
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_scope",
                "unsupported_grant_type",
                "temporarily_unavailable",
            ]
        }
    )
    error_description = ma.fields.String()


_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": [GRANT]},
                    "scope": {"type": "string", "description": "Space-separated scopes."},
                    "client_id": {"type": "string"},
                    "client_secret": {"type": "string"},
                },
            }
        }
    },
}


def issuer() -> tokens.Issuer | None:
    """This gateway as a token issuer; None without [server] secret_key (keys are sealed)."""
    extensions = current_app.extensions
    if "oauth.issuer" not in extensions:
        server = current_app.config["GATEWAY"]["server"]
        base = server["base_url"].rstrip("/")
        extensions["oauth.issuer"] = (
            tokens.Issuer(base, f"{base}/api", Sealer(server["secret_key"], "oauth signing keys"))
            if server["secret_key"]
            else None
        )
    return extensions["oauth.issuer"]


def _refuse(status: int, error: str, description: str, **headers: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers.update({"Cache-Control": "no-store", **headers})
    return response


def _client_credentials() -> tuple[str, str] | None:
    """(id, secret) from HTTP Basic (preferred) or the form, or None."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = pair.partition(":")
        return (unquote(client_id), unquote(secret)) if sep else None
    form = request.form
    if form.get("client_id") and form.get("client_secret"):
        return form["client_id"], form["client_secret"]
    return None


@blp.route("/token")
class Token(MethodView):
    @blp.doc(
        security=[{"clientBasic": []}, {}],
        requestBody=_FORM,
        responses={
            "400": {
                "description": "Refused",
                "content": {"application/json": {"schema": TokenErrorSchema}},
            },
            "401": {
                "description": "Unknown client",
                "content": {"application/json": {"schema": TokenErrorSchema}},
            },
            "503": {
                "description": "OAuth is off (no secret_key)",
                "content": {"application/json": {"schema": TokenErrorSchema}},
            },
        },
    )
    @blp.response(200, TokenSchema)
    def post(self):
        """Get an access token (client credentials)

        Authenticate with HTTP Basic (`client_id:client_secret`) or send both in the form.
        The token is a JWT valid for 10 minutes; send it as `Authorization: Bearer <token>`.
        Ask for fewer scopes than the client has with `scope`.
        """
        if request.mimetype != "application/x-www-form-urlencoded":
            return _refuse(
                400, "invalid_request", "send the form as application/x-www-form-urlencoded"
            )
        signer = issuer()
        if signer is None:
            return _refuse(503, "temporarily_unavailable", "OAuth needs [server] secret_key")
        credentials = _client_credentials()
        session = db.session()
        client = credentials and tokens.authenticate_client(session, *credentials)
        if not client:
            return _refuse(
                401,
                "invalid_client",
                "unknown client or wrong secret",
                **{"WWW-Authenticate": 'Basic realm="oauth"'},
            )
        from gateway.web.auth import ip_allowed

        if not ip_allowed(client.allowed_ips, request.remote_addr):
            return _refuse(
                400, "invalid_client", "this client may not be used from this IP address"
            )
        ratelimit.check(f"oauth:{client.id}")
        if request.form.get("grant_type") != GRANT:
            return _refuse(400, "unsupported_grant_type", f"only {GRANT} is supported")
        asked = request.form.get("scope", "").split()
        scopes = asked or list(client.scopes)
        if not set(scopes) <= set(client.scopes):
            return _refuse(400, "invalid_scope", "the client does not have every scope asked for")
        token = tokens.issue(session, signer, client, scopes)
        session.commit()
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": tokens.TOKEN_LIFETIME,
            "scope": " ".join(scopes),
        }
        response = jsonify(answer)
        response.headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
        return response


@blp.route("/jwks.json")
class Jwks(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    def get(self):
        """The public keys that verify access tokens (JWKS)"""
        response = jsonify(keys=tokens.published(db.session()))
        response.headers["Cache-Control"] = "public, max-age=300"
        return response


def metadata():
    """RFC 8414 authorization server metadata."""
    base = current_app.config["GATEWAY"]["server"]["base_url"].rstrip("/")
    from gateway.web.auth import SCOPES

    return {
        "issuer": base,
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/oauth/jwks.json",
        "grant_types_supported": [GRANT],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(SCOPES),
        "response_types_supported": [],
    }


def init_app(app: Flask) -> None:
    """Register the token endpoint in the API (documented) and the metadata route."""
    api = app.extensions["gateway.api"]
    api.register_blueprint(blp, url_prefix="/oauth")
    api.spec.components.security_scheme(
        "clientBasic",
        {"type": "http", "scheme": "basic", "description": "OAuth client id and secret."},
    )
    app.add_url_rule("/.well-known/oauth-authorization-server", "oauth_metadata", metadata)
