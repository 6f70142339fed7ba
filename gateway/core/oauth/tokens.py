"""Clients, signing keys and access tokens: issued, rotated, published and verified.

Tokens are JWTs (RFC 9068: ``typ`` at+jwt, ``kid`` in the header, iss/aud/sub/client_id/
scope/iat/exp/jti) signed RS256 with PyJWT; nothing of JOSE is written here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from gateway.core.models import utcnow
from gateway.core.oauth.models import OAuthClient, SigningKey
from gateway.core.sealing import Sealer

TOKEN_LIFETIME = 600  # seconds: short, so that a revoked scope or client dies soon anyway
ALGORITHM = "RS256"  # the one RFC 9068 requires every resource server to support
TOKEN_TYPE = "at+jwt"  # noqa: S105  (a media type, not a password)
LEEWAY = 30  # seconds of clock skew tolerated on exp/iat
# a retired key verifies, and stays published, as long as a token it signed may live
PUBLISHED_AFTER_RETIREMENT = timedelta(seconds=TOKEN_LIFETIME + LEEWAY)


class InvalidToken(ValueError):
    """The token is not one this gateway issued, or no longer valid."""


@dataclass(frozen=True)
class Issuer:
    """Who signs (``iss``), for whom (``aud``), and the sealer of private keys."""

    issuer: str
    audience: str
    sealer: Sealer


def _hash(secret: str) -> str:
    # 256 bits of entropy: a plain digest cannot be brute-forced
    return hashlib.sha256(secret.encode()).hexdigest()


def create_client(
    session: Session,
    merchant_id: str,
    scopes: Iterable[str],
    name: str = "",
    allowed_ips: Iterable[str] = (),
) -> tuple[OAuthClient, str]:
    """A new client; its secret is returned once and stored only hashed."""
    secret = "gcs_" + secrets.token_urlsafe(32)
    client = OAuthClient(
        merchant_id=merchant_id,
        name=name,
        secret_hash=_hash(secret),
        scopes=list(scopes),
        allowed_ips=list(allowed_ips),
    )
    session.add(client)
    session.flush()
    return client, secret


def authenticate_client(session: Session, client_id: str, secret: str) -> OAuthClient | None:
    """The live client with this id and secret, compared in constant time."""
    client = session.scalar(sa.select(OAuthClient).where(OAuthClient.id == client_id))
    if client is None or client.revoked_at is not None:
        _hash(secret)  # the same work whether or not the id exists
        return None
    return client if hmac.compare_digest(client.secret_hash, _hash(secret)) else None


def rotate(session: Session, issuer: Issuer) -> SigningKey:
    """A new signing key; the current ones retire (they verify until their tokens expire)."""
    now = utcnow()
    session.execute(
        sa.update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
    )
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_hex(8)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=kid, use="sig", alg=ALGORITHM)
    key = SigningKey(kid=kid, private_key=issuer.sealer.seal(pem, kid), public_jwk=jwk)
    session.add(key)
    # keys no token can need any more are dropped
    session.execute(
        sa.delete(SigningKey).where(SigningKey.retired_at < now - PUBLISHED_AFTER_RETIREMENT)
    )
    session.flush()
    return key


def _signing_key(session: Session, issuer: Issuer) -> SigningKey:
    key = session.scalar(
        sa.select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    )
    return key if key is not None else rotate(session, issuer)


def published(session: Session) -> list[dict]:
    """The JWKS ``keys``: the signing key and those retired while their tokens may live."""
    horizon = utcnow() - PUBLISHED_AFTER_RETIREMENT
    keys = session.scalars(
        sa.select(SigningKey)
        .where(sa.or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > horizon))
        .order_by(SigningKey.created_at.desc())
    )
    return [key.public_jwk for key in keys]


def issue(session: Session, issuer: Issuer, client: OAuthClient, scopes: list[str]) -> str:
    """A signed access token for ``client`` with ``scopes`` (a subset of its own)."""
    key = _signing_key(session, issuer)
    now = int(time.time())
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": client.id,
        "client_id": client.id,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "jti": secrets.token_hex(16),
    }
    private = issuer.sealer.open(key.private_key, key.kid)
    return jwt.encode(
        claims, private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": TOKEN_TYPE}
    )


def verify(session: Session, issuer: Issuer, token: str) -> dict:
    """The claims of a valid token; InvalidToken says why not (wrong key, audience, expired)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("not a JWT") from None
    if header.get("typ", "").lower() not in (TOKEN_TYPE, "application/" + TOKEN_TYPE):
        raise InvalidToken("not an access token (typ at+jwt)")
    jwks = {jwk["kid"]: jwk for jwk in published(session)}
    jwk = jwks.get(header.get("kid", ""))
    if jwk is None:
        raise InvalidToken("signed by an unknown or retired key")
    try:
        return jwt.decode(
            token,
            jwt.algorithms.RSAAlgorithm.from_jwk(jwk),
            algorithms=[ALGORITHM],
            audience=issuer.audience,
            issuer=issuer.issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "jti", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("issued for another audience") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from None
