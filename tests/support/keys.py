"""Watch-only keys for tests, derived from well-known mnemonics (never hold real money)."""

from __future__ import annotations

import functools

from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

STANDARD_MNEMONIC = "test test test test test test test test test test test junk"


@functools.cache
def account_xpub(coin: Bip44Coins, account: int = 0, mnemonic: str = STANDARD_MNEMONIC) -> str:
    """The account-level xpub m/44'/coin'/account' of ``mnemonic``."""
    seed = Bip39SeedGenerator(mnemonic).Generate()
    node = Bip44.FromSeed(seed, coin).Purpose().Coin().Account(account)
    return node.PublicKey().ToExtended()


# Merchants in tests use accounts 1 and up, so their deposit addresses are never the
# funded anvil accounts (account 0) that pay them.
MERCHANT_EVM_XPUB = account_xpub(Bip44Coins.ETHEREUM, account=1)
MERCHANT_TRON_XPUB = account_xpub(Bip44Coins.TRON, account=1)
