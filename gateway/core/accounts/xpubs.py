"""What a merchant pastes as an xpub, checked before anything is kept: private keys are
refused with an explanation, and the first addresses are shown with their paths so the
merchant can compare them with their own wallet."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bip_utils import Base58Decoder

from plugins.base import ChainDriver

PREVIEW = 5
#: BIP-44 coin type by chain family (every EVM chain derives as Ethereum)
COIN_TYPES = {"evm": 60, "tron": 195}
_HARDENED = 2**31
# version bytes of extended private keys: xprv, tprv, yprv, zprv, Yprv, Zprv, uprv, vprv
_PRIVATE_VERSIONS = {
    bytes.fromhex(v)
    for v in (
        "0488ade4", "04358394", "049d7878", "04b2430c", "0295b005", "02aa7a99",
        "044a4e28", "045f18bc",
    )
}  # fmt: skip
_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_WIF = re.compile(r"[5KLc9][1-9A-HJ-NP-Za-km-z]{50,51}")


class XpubRefused(ValueError):
    """Not an account-level xpub; the message explains what was pasted instead."""


@dataclass(frozen=True)
class Derived:
    """One address the xpub gives, with the path a wallet shows for it."""

    index: int
    path: str
    address: str


def private_kind(text: str) -> str | None:
    """What private key ``text`` looks like ("extended private key", "hex", "WIF"), if any."""
    text = text.strip()
    if text[1:4] == "prv":
        return "extended private key"
    try:
        raw = Base58Decoder.CheckDecode(text)
    except Exception:  # not base58check: bip_utils raises several types
        raw = b""
    if raw[:4] in _PRIVATE_VERSIONS:
        return "extended private key"
    if _HEX_KEY.fullmatch(text):
        return "hex private key"
    if _WIF.fullmatch(text) and raw and len(raw) in (33, 34):
        return "WIF private key"
    if len(text.split()) in (12, 15, 18, 21, 24) and text.replace(" ", "").isalpha():
        return "recovery phrase"
    return None


def preview(driver: ChainDriver, text: str) -> list[Derived]:
    """The first addresses of an account-level xpub, or XpubRefused saying what is wrong."""
    text = text.strip()
    kind = private_kind(text)
    if kind is not None:
        # never echo it back, never log it: the caller drops the input as well
        raise XpubRefused(
            f"this looks like a {kind}. The gateway must never hold private keys: export "
            "the account's extended public key (xpub) from your wallet instead, and keep "
            "the private key where it is."
        )
    try:
        addresses = [driver.derive_address(text, i) for i in range(PREVIEW)]
    except ValueError as exc:
        raise XpubRefused(
            f"{exc}. Use the account-level extended public key, the one at "
            f"m/44'/{COIN_TYPES.get(driver.family, 'coin')}'/0' (depth 3), not the master key "
            "nor an address-level key."
        ) from None
    prefix = f"m/44'/{COIN_TYPES.get(driver.family, '?')}'/{_account(text)}'/0"
    return [Derived(i, f"{prefix}/{i}", address) for i, address in enumerate(addresses)]


def _account(xpub: str) -> str:
    """The account number the xpub says it is at (its hardened child number)."""
    raw = Base58Decoder.CheckDecode(xpub)
    number = int.from_bytes(raw[9:13], "big")
    return str(number - _HARDENED) if number >= _HARDENED else "?"
