"""The TronDriver's harness: a fresh local TRON node per test."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import requests
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from tronpy.keys import PrivateKey, to_hex_address

from devtools.devnet import MNEMONIC
from plugins.base import ChainDriver
from plugins.tron.driver import TronDriver
from tests.drivers.harness import DriverHarness
from tests.fixtures.tron import PAYER as TRON_PAYER
from tests.tronnode import TronNode
from tests.tronnode.proto import trigger_raw_data

APPROVE = "approve(address,uint256)"  # another function of the token than transfer


class TronHarness(DriverHarness):
    """TronDriver on a fresh local TRON node (solidification 3 blocks behind the head)."""

    kind = "tron"
    coin = Bip44Coins.TRON
    vector = "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL6"
    bad_checksum = "TWer2Ygk5TEheHp3TPuYeqxmB6SsGZmaL7"
    token_decimals = 6
    fixtures = ("tron_node",)
    payer = TRON_PAYER

    def __init__(self, tron_node: TronNode) -> None:
        self.node = tron_node
        self.payer_key = tron_key(0)
        tron_node.fund(TRON_PAYER, 1_000 * 10**6)  # 1,000 TRX for fees

    def settings(self) -> dict[str, Any]:
        """Settings of a driver on the node's token."""
        return {
            "full_node": self.node.url,
            "token": self.node.chain.token,
            "confirmations": 2,
            "timeout": 2,
        }

    def bad_settings(self) -> list[tuple[str, Any]]:
        """Bad node URL and API key."""
        return [("full_node", "ftp://node"), ("full_node", None), ("api_key", "")]

    def driver_class(self) -> type:
        """TronDriver."""
        return TronDriver

    def make_driver(self, **overrides: Any) -> ChainDriver:
        """A TronDriver with short retry waits, so rate-limit tests stay fast."""
        driver = super().make_driver(**overrides)
        driver.backoff_base = 0.01  # type: ignore[attr-defined]
        return driver

    def equivalent_forms(self, address: str) -> list[str]:
        """The 41-prefixed hex form, in either case."""
        hex_form = to_hex_address(address)
        return [hex_form, hex_form.upper(), f" {address} "]

    def pay(self, to: str, amount: int) -> str:
        """Queue a transfer from the funded PAYER."""
        return self.node.transfer(TRON_PAYER, to, amount)

    def pay_other_token(self, to: str, amount: int) -> str:
        """Queue a transfer of the chain's second TRC-20."""
        return self.node.transfer(TRON_PAYER, to, amount, token=self.node.chain.other_token)

    def pay_failing(self, to: str, amount: int) -> str:
        """Queue a transfer that reverts when packed."""
        return self.node.transfer(TRON_PAYER, to, amount, fail=True)

    def mine(self, count: int = 1) -> int:
        """Produce blocks."""
        return self.node.produce_block(count)

    def reorg(self, depth: int) -> None:
        """Orphan the newest blocks, dropping their transactions, and rebuild the heights."""
        head = self.node.chain.head().number
        self.node.orphan(head - depth + 1)
        self.node.produce_block(depth)

    def rate_limit(self, requests: int) -> None:
        """The node answers 429 with TronGrid's body."""
        self.node.rate_limit(requests, status=429, retry_after=0)

    def lag(self, behind: int) -> None:
        """The next receipts request reaches a backend that far behind."""
        self.node.lag(behind, path="/wallet/gettransactioninfobyblocknum")

    def requests_seen(self) -> int:
        """HTTP requests the node recorded, faulted ones included."""
        return len(self.node.requests)

    has_nonces = False
    expires = True
    names_its_sender = True
    poor_outcome = "rejected"  # an account that never received TRX cannot send at all

    def poor_sender(self) -> bytes:
        """A fresh key holding tokens, and no TRX account."""
        key = PrivateKey(secrets.token_bytes(32))
        self.node.chain.mint(key.public_key.to_base58check_address(), 10**9)
        return key.to_bytes()

    def random_tx_hash(self) -> str:
        """64 hex digits."""
        return secrets.token_hex(32)

    def other_token(self) -> str:
        """The chain's second TRC-20 (the payer holds some)."""
        return self.node.chain.other_token

    def sign_other_call(self, key: bytes, to: str, amount: int) -> str:
        """approve(to, amount) built by the node and signed by ``key``."""
        signer = PrivateKey(key)
        reply = self.node_post(
            "wallet/triggersmartcontract",
            {
                "owner_address": to_hex_address(signer.public_key.to_base58check_address()),
                "contract_address": to_hex_address(self.node.chain.token),
                "function_selector": APPROVE,
                "parameter": to_hex_address(to)[2:].rjust(64, "0") + f"{amount:064x}",
                "fee_limit": 30_000_000,
            },
        )
        tx = reply["transaction"]
        tx["signature"] = [signer.sign_msg_hash(bytes.fromhex(tx["txID"])).hex()]
        return json.dumps(tx)

    def tamper(self, raw: str, what: str) -> str:
        """Change raw_data and raw_data_hex alike and re-hash the txID; keep the signature."""
        tx = json.loads(raw)
        value = tx["raw_data"]["contract"][0]["parameter"]["value"]
        data = bytearray.fromhex(value["data"])
        if what == "amount":
            data[-1] ^= 1
        elif what == "recipient":
            data[35] ^= 1
        elif what == "signature":
            signature = bytearray.fromhex(tx["signature"][0])
            signature[40] ^= 1
            tx["signature"] = [signature.hex()]
        value["data"] = data.hex()
        raw_data = tx["raw_data"]
        encoded = trigger_raw_data(
            owner=bytes.fromhex(value["owner_address"]),
            contract=bytes.fromhex(value["contract_address"]),
            data=bytes(data),
            ref_block_bytes=bytes.fromhex(raw_data["ref_block_bytes"]),
            ref_block_hash=bytes.fromhex(raw_data["ref_block_hash"]),
            expiration=raw_data["expiration"],
            timestamp=raw_data["timestamp"],
            fee_limit=raw_data.get("fee_limit", 0),
        )
        tx["raw_data_hex"] = encoded.hex()
        tx["txID"] = hashlib.sha256(encoded).hexdigest()
        return json.dumps(tx)

    def expire(self, expiration_ms: int) -> None:
        """Produce blocks until the solidified head is at least as old as ``expiration_ms``."""
        while self.node.chain.head(solid=True).timestamp < expiration_ms:
            self.node.produce_block(20)

    def node_post(self, path: str, body: dict[str, Any]) -> Any:
        """One JSON request to the node."""
        return requests.post(self.node.url + path, json=body, timeout=5).json()


def tron_key(index: int) -> bytes:
    """The private key at m/44'/195'/0'/0/index of the test mnemonic (index 0: the PAYER)."""
    seed = Bip39SeedGenerator(MNEMONIC).Generate()
    chain = Bip44.FromSeed(seed, Bip44Coins.TRON).Purpose().Coin().Account(0)
    node = chain.Change(Bip44Changes.CHAIN_EXT).AddressIndex(index)
    return node.PrivateKey().Raw().ToBytes()
