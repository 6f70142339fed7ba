"""API keys: shown once, stored hashed, found by a public prefix; scopes and IP allow-lists."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from flask import g, request
from sqlalchemy.orm import Session

from gateway import db, ratelimit
from gateway.errors import fail
from gateway.models import ApiKey, Merchant, utcnow

SCOPES = (
    "orders:read",
    "orders:write",
    "webhooks:read",
    "webhooks:write",
)
KEY_PREFIX = "gwk_"


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
    )
    session.add(key)
    session.flush()
    return key, f"{prefix}_{secret}"


def find_key(session: Session, presented: str) -> ApiKey | None:
    """The live key matching ``presented``, compared in constant time."""
    if not presented.startswith(KEY_PREFIX):
        return None
    # the secret is urlsafe base64, which may itself contain "_": split after the prefix
    public, _, secret = presented[len(KEY_PREFIX) :].partition("_")
    prefix = KEY_PREFIX + public
    if not public or not secret:
        return None
    key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(secret)):
        return None
    return key


def has_scope(key: ApiKey, scope: str) -> bool:
    """Whether ``key`` grants ``scope``; a write scope grants the matching read."""
    resource = scope.split(":")[0]
    return scope in key.scopes or (scope.endswith(":read") and f"{resource}:write" in key.scopes)


def _ip_allowed(key: ApiKey, remote: str | None) -> bool:
    if not key.allowed_ips:
        return True
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in key.allowed_ips)


def authenticate() -> ApiKey:
    """The request's API key, or a 401 JSON error."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        fail(
            401,
            "missing_api_key",
            "send your API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    session = db.session()
    key = find_key(session, presented.strip())
    if key is None:
        fail(
            401,
            "invalid_api_key",
            "the API key is not valid or has been revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not _ip_allowed(key, request.remote_addr):
        fail(403, "ip_not_allowed", "this API key may not be used from this IP address")
    now = utcnow()
    # a write per request would serialize every API call on SQLite; a minute is precise enough
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        key.last_used_at = now
        session.commit()
    return key


def require(scope: str) -> Callable:
    """Decorator: the view needs a valid key with ``scope``; sets ``g.api_key``/``g.merchant``."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            key = authenticate()
            ratelimit.check(key.id)
            if not has_scope(key, scope):
                fail(403, "insufficient_scope", f"this API key lacks the '{scope}' scope")
            g.api_key = key
            g.merchant_id = key.merchant_id
            return view(*args, **kwargs)

        return wrapper

    return decorator
