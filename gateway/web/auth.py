"""API keys: shown once, stored hashed, found by a public prefix; scopes and IP allow-lists."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import Response, after_this_request, g, request
from sqlalchemy.orm import Session
from werkzeug.http import http_date

from gateway.core.models import ApiKey, Merchant, utcnow
from gateway.core.oauth import tokens
from gateway.core.oauth.models import OAuthClient
from gateway.core.schemas import iso
from gateway.web import db, ratelimit
from gateway.web.errors import fail

SCOPES = (
    "orders:read",
    "orders:write",
    "webhooks:read",
    "webhooks:write",
    "balances:read",
    "payouts:read",
    "payouts:write",
    # approving a payout is its own scope, never implied by payouts:write: the key that
    # asks for a payout cannot be the one that lets it go
    "payouts:approve",
    "wallets:read",
    "wallets:write",
    "audit:read",
    # the events API and its stream: every event type, as the merchant's webhooks carry them
    "events:read",
)
KEY_PREFIX = "gwk_"
# how early answers start warning that the key in use will expire
EXPIRY_WARNING = timedelta(days=14)

# Core statements: every API request looks its key up, and the ORM's loading of an object
# costs more than the SELECT itself
_keys = ApiKey.__table__
_BY_PREFIX = sa.select(
    _keys.c.id,
    _keys.c.merchant_id,
    _keys.c.secret_hash,
    _keys.c.scopes,
    _keys.c.allowed_ips,
    _keys.c.last_used_at,
    _keys.c.revoked_at,
    _keys.c.expires_at,
).where(_keys.c.prefix == sa.bindparam("prefix"))
_USED = sa.update(_keys).where(_keys.c.id == sa.bindparam("key_id"))


def _hash(secret: str) -> str:
    # the secret has 256 bits of entropy, so a plain digest cannot be brute-forced
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    """Validate scope names; ValueError names the first unknown one."""
    result = []
    for scope in scopes:
        scope = scope.strip()
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")
        if scope not in result:
            result.append(scope)
    if not result:
        raise ValueError("at least one scope is required")
    return result


def parse_networks(networks: Iterable[str]) -> list[str]:
    """Validate IP addresses or CIDR networks for an allow-list."""
    return [str(ipaddress.ip_network(n.strip(), strict=False)) for n in networks if n.strip()]


def create_api_key(
    session: Session,
    merchant: Merchant,
    scopes: Iterable[str],
    name: str = "",
    allowed_ips: Iterable[str] = (),
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the plaintext is returned once and never stored."""
    prefix = KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        merchant_id=merchant.id,
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=parse_scopes(scopes),
        allowed_ips=parse_networks(allowed_ips),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, f"{prefix}_{secret}"


def find_key(session: Session, presented: str) -> sa.Row | None:
    """The live key matching ``presented``, compared in constant time (a row of api_keys)."""
    if not presented.startswith(KEY_PREFIX):
        return None
    # the secret is urlsafe base64, which may itself contain "_": split after the prefix
    public, _, secret = presented[len(KEY_PREFIX) :].partition("_")
    prefix = KEY_PREFIX + public
    if not public or not secret:
        return None
    key = session.connection().execute(_BY_PREFIX, {"prefix": prefix}).one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    return key


def has_scope(key: sa.Row, scope: str) -> bool:
    """Whether ``key`` grants ``scope``; a write scope grants the matching read."""
    resource = scope.split(":")[0]
    return scope in key.scopes or (scope.endswith(":read") and f"{resource}:write" in key.scopes)


def ip_allowed(networks: list[str], remote: str | None) -> bool:
    """Whether ``remote`` is in one of ``networks`` (an empty list allows every address)."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in networks)


@dataclass(frozen=True)
class Credential:
    """Who calls: an API key or an OAuth client's access token, with the same powers."""

    id: str
    merchant_id: str
    scopes: list[str]
    allowed_ips: list[str]
    expires_at: datetime | None = None
    kind: str = "api_key"


def _unauthorized(code: str, message: str) -> NoReturn:
    fail(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def _from_token(token: str) -> Credential:
    """The credential of an OAuth access token: its scopes within its client's current ones."""
    from gateway.web.oauth import issuer

    signer = issuer()
    if signer is None:
        _unauthorized("invalid_token", "OAuth is not enabled on this gateway")
    session = db.session()
    try:
        claims = tokens.verify(session, signer, token)
    except tokens.InvalidToken as exc:
        _unauthorized("invalid_token", f"the access token is not valid: {exc}")
    client = session.scalar(sa.select(OAuthClient).where(OAuthClient.id == claims["sub"]))
    if client is None or client.revoked_at is not None:
        _unauthorized("invalid_token", "the access token's client has been revoked")
    # a scope taken from the client since the token was issued is gone at once
    scopes = [s for s in str(claims.get("scope", "")).split() if s in client.scopes]
    return Credential(client.id, client.merchant_id, scopes, client.allowed_ips, kind="oauth")


def authenticate() -> Credential | sa.Row:
    """The request's API key or access token, or a 401 JSON error."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        fail(
            401,
            "missing_api_key",
            "send your API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    presented = presented.strip()
    if not presented.startswith(KEY_PREFIX) and presented.count(".") == 2:
        credential = _from_token(presented)
        if not ip_allowed(credential.allowed_ips, request.remote_addr):
            fail(403, "ip_not_allowed", "this client may not be used from this IP address")
        return credential
    session = db.session()
    key = find_key(session, presented)
    if key is None:
        _unauthorized("invalid_api_key", "the API key is not valid or has been revoked")
    now = utcnow()
    if key.expires_at is not None and key.expires_at <= now:
        _unauthorized("api_key_expired", f"the API key expired at {iso(key.expires_at)}")
    if not ip_allowed(key.allowed_ips, request.remote_addr):
        fail(403, "ip_not_allowed", "this API key may not be used from this IP address")
    # a write per request would serialize every API call on SQLite; a minute is precise enough
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        session.connection().execute(
            _USED, {"key_id": key.id, "last_used_at": now, "last_used_ip": request.remote_addr}
        )
        session.commit()
    return key


def require(scope: str) -> Callable:
    """Decorator: the view needs a valid key with ``scope``; sets ``g.api_key``/``g.merchant``."""

    def decorator(view: Callable) -> Callable:
        view.required_scope = scope  # read by the tests' scope matrix

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            key = authenticate()
            ratelimit.check(key.id)
            _warn_of_expiry(key)
            if not has_scope(key, scope):
                fail(403, "insufficient_scope", f"this credential lacks the '{scope}' scope")
            g.api_key = key
            g.merchant_id = key.merchant_id
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _warn_of_expiry(key: Any) -> None:
    """Answers name a key's expiry; within EXPIRY_WARNING of it they warn (RFC 7234 Warning)."""
    expires_at = getattr(key, "expires_at", None)
    if expires_at is None:
        return
    left = expires_at - utcnow()

    @after_this_request
    def _headers(response: Response) -> Response:
        response.headers["API-Key-Expires"] = http_date(expires_at)
        if left <= EXPIRY_WARNING:
            days = max(0, left.days)
            response.headers["Warning"] = (
                f'299 - "this API key expires on {iso(expires_at)} (in {days} days):'
                ' create a new one"'
            )
        return response
