"""Two-factor authentication: TOTP codes (RFC 6238, as authenticator apps make them), each
good once, and one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp

from gateway.core.accounts.models import User
from gateway.core.models import utcnow

STEP = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from paper


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (this one or a neighbour, for clock drift), or None."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        moment = now + drift * STEP
        if hmac.compare_digest(totp.at(moment), code):
            return int(moment // STEP)
    return None


def use_code(user: User, code: str, secret: str | None = None) -> bool:
    """Accept a TOTP code of ``user`` (or of ``secret`` while enrolling) at most once."""
    secret = secret or user.totp_secret
    if not secret:
        return False
    step = matching_step(secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; the plain codes are returned to show once."""
    codes = [
        "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]
    user.recovery_codes = [_digest(code) for code in codes]
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Accept one unused recovery code, and strike it off."""
    digest = _digest(code)
    remaining = list(user.recovery_codes or [])
    for stored in remaining:
        if hmac.compare_digest(stored, digest):
            remaining.remove(stored)
            user.recovery_codes = remaining
            return True
    return False


def enable(user: User, secret: str, code: str) -> list[str] | None:
    """Turn 2FA on once ``code`` proves the app holds ``secret``; the recovery codes."""
    if not use_code(user, code, secret):
        return None
    user.totp_secret, user.totp_enabled_at = secret, utcnow()
    return new_recovery_codes(user)


def disable(user: User) -> None:
    """Turn 2FA off and forget the secret and the recovery codes."""
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.recovery_codes = []


def _digest(code: str) -> str:
    # 50 random bits behind a login throttle: a plain digest is enough
    normalized = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(normalized.encode()).hexdigest()
