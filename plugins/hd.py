"""Watch-only HD derivation shared by drivers: account-level xpub -> child public key."""

from __future__ import annotations

import functools

from bip_utils import Base58Decoder, Bip44, Bip44Changes, Bip44Coins, Secp256k1PublicKey

MAX_INDEX = 2**31 - 1  # non-hardened child indexes only
# a serialized BIP32 key: version 4 bytes, depth 1, parent fingerprint 4, child number 4,
# chain code 32, key 33
EXTENDED_KEY_LENGTH = 78
CHAIN_CODE = slice(13, 45)
PUBLIC_KEY = slice(45, 78)


def child_address(xpub: str, index: int, coin: Bip44Coins) -> str:
    """Address at m/44'/coin'/account'/0/index from the account-level ``xpub``."""
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"index out of range: {index}")
    return _external_chain(xpub.strip(), coin).AddressIndex(index).PublicKey().ToAddress()


@functools.lru_cache(maxsize=1024)
def _external_chain(xpub: str, coin: Bip44Coins) -> Bip44:
    """The parsed ``xpub``'s external chain (m/.../account'/0), kept: every order derives from
    one of a few merchants' xpubs, and parsing plus this step cost twice the last one."""
    return account_key(xpub, coin).Change(Bip44Changes.CHAIN_EXT)


def account_key(xpub: str, coin: Bip44Coins) -> Bip44:
    """Parse an account-level (depth 3) extended public key; ValueError when it is not one."""
    try:
        ctx = Bip44.FromExtendedKey(xpub.strip(), coin)
    except Exception as exc:  # bip_utils raises a dozen unrelated types for bad input
        raise ValueError("not a valid extended public key") from exc
    if not ctx.IsPublicOnly():
        # a private key must never be stored: it would make the gateway a custodian
        raise ValueError("an extended private key was given; register the xpub only")
    if ctx.Level().name != "ACCOUNT":
        raise ValueError("the key must be account-level (m/44'/coin'/account')")
    return ctx


def account_key_id(xpub: str) -> str:
    """The key an extended public key holds, as hex of its compressed public key + chain code."""
    # Only these two decide the child keys, hence the addresses. Version, depth, parent
    # fingerprint and child number can be rewritten (and re-checksummed) without changing
    # one address, so two xpub strings are the same key exactly when these bytes match.
    try:
        raw = Base58Decoder.CheckDecode(xpub.strip())
        if len(raw) != EXTENDED_KEY_LENGTH:
            raise ValueError(f"{len(raw)} bytes")
        # parsing the point refuses private keys and off-curve bytes, and gives one encoding
        public = Secp256k1PublicKey.FromBytes(raw[PUBLIC_KEY]).RawCompressed().ToBytes()
    except Exception as exc:  # bip_utils raises a dozen unrelated types for bad input
        raise ValueError("not a valid extended public key") from exc
    return (public + raw[CHAIN_CODE]).hex()
