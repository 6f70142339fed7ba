"""Hot wallet keys: Ethereum keystore v3 (scrypt) files, under a passphrase kept out of config.

The passphrase comes from an environment variable or from a file whose path the
configuration names; it is never in the configuration itself, the database, a log line or
an error. A key is decrypted for one signature and not kept.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_account import Account

# secp256k1's order: a private key is an integer in [1, n)
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeysUnavailable(RuntimeError):
    """Hot wallets are disabled: no passphrase is configured."""


class WrongPassphrase(ValueError):
    """A keystore did not open with the passphrase given."""


def passphrase(settings: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str | None:
    """The hot wallets' passphrase from ``[wallets] passphrase_env`` or ``passphrase_file``."""
    environ = os.environ if environ is None else environ
    value = environ.get(settings["passphrase_env"]) if settings["passphrase_env"] else None
    if not value and settings["passphrase_file"]:
        try:
            value = Path(settings["passphrase_file"]).read_text().strip()
        except OSError as exc:
            # the path is configuration, not a secret; the content never appears
            raise KeysUnavailable(
                f"wallets.passphrase_file cannot be read ({type(exc).__name__})"
            ) from None
    return value or None


def new_key() -> bytes:
    """A fresh private key from the operating system's randomness."""
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < CURVE_ORDER:
            return key


def encrypt(private_key: bytes, passphrase: str, iterations: int) -> str:
    """A keystore v3 document (scrypt, ``iterations`` as its cost n) of ``private_key``."""
    document = Account.encrypt(private_key, passphrase, kdf="scrypt", iterations=iterations)
    return json.dumps(document)


def decrypt(keystore: str, passphrase: str) -> bytes:
    """The private key inside a keystore v3 document; WrongPassphrase when it does not open."""
    try:
        return bytes(Account.decrypt(keystore, passphrase))
    except ValueError:
        # eth-account says "MAC mismatch"; nothing of the key or the passphrase is in it
        raise WrongPassphrase("the keystore does not open with this passphrase") from None
    except (TypeError, KeyError, json.JSONDecodeError):
        raise WrongPassphrase("not a keystore v3 document") from None


class KeyRing:
    """Opens the hot wallets' keystores with the configured passphrase, one call at a time."""

    def __init__(self, settings: Mapping[str, Any], environ: Mapping[str, str] | None = None):
        self._passphrase = passphrase(settings, environ)
        self.iterations = settings["kdf_iterations"]

    def __repr__(self) -> str:
        # never the passphrase
        return f"KeyRing(enabled={self.enabled})"

    @property
    def enabled(self) -> bool:
        """Whether hot wallets can sign here."""
        return self._passphrase is not None

    def seal(self, private_key: bytes) -> str:
        """A keystore of ``private_key`` under the configured passphrase."""
        return encrypt(private_key, self._require(), self.iterations)

    def open(self, keystore: str) -> bytes:
        """The private key of a hot wallet's keystore."""
        return decrypt(keystore, self._require())

    def _require(self) -> str:
        if self._passphrase is None:
            raise KeysUnavailable(
                "hot wallets are disabled: set the passphrase in the environment variable"
                " named by [wallets] passphrase_env, or in the file [wallets] passphrase_file"
            )
        return self._passphrase
