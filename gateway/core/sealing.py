"""Sealed values: AES-256-GCM under a key derived from ``[server] secret_key``.

For secrets the gateway must give back later but should not keep readable (a replayed
answer's webhook secret, OAuth signing keys): a database dump alone opens nothing. Each
purpose derives its own key (HKDF-SHA256), and each value is bound to a context (the
associated data), so a sealed value copied to another row does not open there.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "sealed.v1."


class SealBroken(ValueError):
    """The value was not sealed here, for this context, or under this secret_key."""


class Sealer:
    """Seals and opens text for one purpose under one secret key."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required")
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"usdt-gateway {purpose}".encode()
        ).derive(secret_key.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> str:
        """``plaintext`` encrypted and bound to ``context``, as printable text."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str, context: str) -> str:
        """The plaintext of ``token``; SealBroken if it was not sealed for ``context``."""
        if not isinstance(token, str) or not token.startswith(PREFIX):
            raise SealBroken("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(token[len(PREFIX) :])
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SealBroken("the value does not open here") from exc


def is_sealed(value: object) -> bool:
    """Whether ``value`` looks like the output of :meth:`Sealer.seal`."""
    return isinstance(value, str) and value.startswith(PREFIX)
