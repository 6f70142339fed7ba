"""Watch-only HD derivation shared by drivers: account-level xpub -> child public key."""

from __future__ import annotations

from bip_utils import Bip44, Bip44Changes, Bip44Coins

MAX_INDEX = 2**31 - 1  # non-hardened child indexes only


def child_address(xpub: str, index: int, coin: Bip44Coins) -> str:
    """Address at m/44'/coin'/account'/0/index from the account-level ``xpub``."""
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"index out of range: {index}")
    account = account_key(xpub, coin)
    return account.Change(Bip44Changes.CHAIN_EXT).AddressIndex(index).PublicKey().ToAddress()


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
