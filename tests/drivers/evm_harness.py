"""The EvmDriver's harness: the session's anvil devnet, reached through a FaultProxy."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import rlp
from bip_utils import Bip44Coins
from eth_account import Account
from web3 import Web3

from devtools.devnet import CHAIN_ID, Devnet
from plugins.evm.driver import EvmDriver
from tests.drivers.harness import DriverHarness
from tests.support.faultproxy import FaultProxy

EVM_PAYER_INDEX = 1  # anvil account that pays; account 0 owns the token
EVM_EMPTY_INDEX = 7  # anvil account that never holds tokens: its transfers revert
FAILING_GAS = 200_000  # fixed, because estimating the gas of a reverting call fails


class EvmHarness(DriverHarness):
    """EvmDriver on the session's anvil devnet, reached through a FaultProxy."""

    kind = "evm"
    coin = Bip44Coins.ETHEREUM
    vector = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    bad_checksum = "0xf39fd6e51aad88F6F4ce6aB8827279cffFb92266"
    token_decimals = 6
    fixtures = ("devnet", "evm_snapshot", "evm_proxy")

    def __init__(self, devnet: Devnet, evm_snapshot: str, evm_proxy: FaultProxy) -> None:
        # evm_snapshot is only asked for: it rolls the chain back after the test
        self.devnet = devnet
        self.proxy = evm_proxy
        self.token = devnet.usdt
        self.payer = devnet.accounts[EVM_PAYER_INDEX].address
        self._other_token: str | None = None
        devnet.mint(self.token, self.payer, 10**15)

    def settings(self) -> dict[str, Any]:
        """Settings of a driver on the devnet's USDT, through the fault proxy."""
        return {
            "rpc_url": self.proxy.url,
            "chain_id": CHAIN_ID,
            "token": self.token,
            "confirmations": 3,
        }

    def bad_settings(self) -> list[tuple[str, Any]]:
        """Bad node URL and chain id."""
        return [("rpc_url", "ws://127.0.0.1:8545"), ("rpc_url", None), ("chain_id", "1")]

    def driver_class(self) -> type:
        """EvmDriver."""
        return EvmDriver

    def equivalent_forms(self, address: str) -> list[str]:
        """All-lowercase and all-uppercase hex carry no checksum and are accepted."""
        return [address.lower(), "0x" + address[2:].upper(), f" {address} "]

    def pay(self, to: str, amount: int) -> str:
        """A transfer from the funded payer; mined at once (automine)."""
        return self.devnet.transfer(self.token, EVM_PAYER_INDEX, to, amount)

    def pay_other_token(self, to: str, amount: int) -> str:
        """A transfer of a second TestTether, deployed on first use."""
        if self._other_token is None:
            self._other_token = self.devnet.deploy_token()
            self.devnet.mint(self._other_token, self.payer, 10**15)
        return self.devnet.transfer(self._other_token, EVM_PAYER_INDEX, to, amount)

    def pay_failing(self, to: str, amount: int) -> str:
        """A transfer from an empty account: mined, reverted, no Transfer log."""
        w3 = self.devnet.w3
        sender = self.devnet.accounts[EVM_EMPTY_INDEX]
        data = self.devnet.token(self.token).encode_abi("transfer", args=[to, amount])
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        tx = {
            "chainId": CHAIN_ID,
            "from": sender.address,
            "to": self.token,
            "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
            "data": data,
            "value": 0,
            "gas": FAILING_GAS,
            "maxPriorityFeePerGas": Web3.to_wei(1, "gwei"),
            "maxFeePerGas": 2 * base_fee + Web3.to_wei(1, "gwei"),
        }
        signed = Account.sign_transaction(tx, sender.private_key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
        assert receipt["status"] == 0, "the failing transfer did not revert"
        return Web3.to_hex(tx_hash)

    def mine(self, count: int = 1) -> int:
        """Mine empty blocks."""
        return self.devnet.mine(count)

    def reorg(self, depth: int) -> None:
        """anvil_reorg with no transactions: the blocks are rebuilt empty."""
        self.devnet.rpc("anvil_reorg", depth, [])

    def rate_limit(self, requests: int) -> None:
        """The proxy answers 429 instead of forwarding."""
        self.proxy.rate_limit(requests, retry_after="0")

    def lag(self, behind: int) -> None:
        """The proxy answers the next eth_getLogs batch as a node that far behind."""
        self.proxy.lag(behind)

    def requests_seen(self) -> int:
        """JSON-RPC calls the proxy received, faulted ones included."""
        return sum(self.proxy.received.values())

    has_nonces = True
    expires = False
    names_its_sender = False
    poor_outcome = "failed"  # Tether's transfer reverts; the gas is paid

    @property
    def payer_key(self) -> bytes:
        """anvil's account 1."""
        return bytes.fromhex(self.devnet.accounts[EVM_PAYER_INDEX].private_key[2:])

    def poor_sender(self) -> bytes:
        """A fresh account with 10 ETH and no tokens."""
        key = secrets.token_bytes(32)
        address = Account.from_key(key).address
        self.devnet.rpc("anvil_setBalance", address, hex(10 * 10**18))
        return key

    def random_tx_hash(self) -> str:
        """0x and 64 hex digits."""
        return "0x" + secrets.token_hex(32)

    def other_token(self) -> str:
        """A second TestTether, deployed on first use (the payer holds some)."""
        if self._other_token is None:
            self._other_token = self.devnet.deploy_token()
            self.devnet.mint(self._other_token, self.payer, 10**15)
        return self._other_token

    def sign_other_call(self, key: bytes, to: str, amount: int) -> str:
        """A type-2 approve(to, amount) on the token, signed by ``key``."""
        account = Account.from_key(key)
        w3 = self.devnet.w3
        tx = {
            "type": 2,
            "chainId": CHAIN_ID,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "to": self.token,
            "value": 0,
            "data": self.devnet.token(self.token).encode_abi("approve", args=[to, amount]),
            "gas": 100_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        }
        return Web3.to_hex(account.sign_transaction(tx).raw_transaction)

    def tamper(self, raw: str, what: str) -> str:
        """Rewrite a field of the type-2 RLP list, keeping yParity, r and s."""
        items = rlp.decode(bytes.fromhex(raw[2:])[1:])
        data = bytearray(items[7])
        if what == "amount":
            data[-1] ^= 1
        elif what == "recipient":
            data[35] ^= 1
        elif what == "signature":
            items[11] = (int.from_bytes(items[11], "big") ^ 1).to_bytes(32, "big")
        items[7] = bytes(data)
        return "0x02" + rlp.encode(items).hex()

    @contextlib.contextmanager
    def holding_blocks(self) -> Iterator[None]:
        """Automine off: sent transactions wait in the pool until ``mine``."""
        self.devnet.rpc("evm_setAutomine", False)
        try:
            yield
        finally:
            self.devnet.rpc("evm_setAutomine", True)
