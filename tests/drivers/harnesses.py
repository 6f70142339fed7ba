"""One DriverHarness per chain driver: how the conformance suite drives that driver's chain.

A harness knows how to build its driver against a local node and how to make things happen
on that node (payments, blocks, reorgs, provider rate limits). The suite in
``test_conformance.py`` only talks to harnesses, so every driver passes the same checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from bip_utils import Bip44Coins
from eth_account import Account
from tronpy.keys import to_hex_address
from web3 import Web3

from plugins.base import ChainDriver
from plugins.evm.devnet import CHAIN_ID, Devnet
from plugins.evm.driver import EvmDriver
from plugins.tron.driver import TronDriver
from tests.fixtures.tron import PAYER as TRON_PAYER
from tests.support.faultproxy import FaultProxy
from tests.support.keys import account_xpub
from tests.tronnode import TronNode

EVM_PAYER_INDEX = 1  # anvil account that pays; account 0 owns the token
EVM_EMPTY_INDEX = 7  # anvil account that never holds tokens: its transfers revert
FAILING_GAS = 200_000  # fixed, because estimating the gas of a reverting call fails


class DriverHarness(ABC):
    """What the conformance suite needs to know about one driver and its local chain."""

    #: Entry-point name under ``gateway.chains``.
    kind: ClassVar[str]
    #: BIP-44 coin type of the driver's addresses.
    coin: ClassVar[Bip44Coins]
    #: Address at index 0 of the "test test ... junk" mnemonic's account 0 (canonical form).
    vector: ClassVar[str]
    #: A well-formed address of this chain whose checksum is wrong.
    bad_checksum: ClassVar[str]
    #: Decimals of the token the harness's chain serves.
    token_decimals: ClassVar[int]
    #: The funded address ``pay`` sends from (canonical form).
    payer: str
    #: Fixtures the harness is built from, by name, passed to ``__init__`` as keywords.
    fixtures: ClassVar[tuple[str, ...]]
    #: Conformance tests this driver is known to fail: test name -> the bug (strict xfail).
    known_failures: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Valid settings for a driver on the local chain."""

    @abstractmethod
    def bad_settings(self) -> list[tuple[str, Any]]:
        """(key, value) pairs specific to this driver that must raise DriverConfigError(key)."""

    @abstractmethod
    def driver_class(self) -> type:
        """The driver class under test."""

    def make_driver(self, **overrides: Any) -> ChainDriver:
        """A driver on the local chain; keyword arguments override settings."""
        return self.driver_class()("conformance", {**self.settings(), **overrides})

    @abstractmethod
    def equivalent_forms(self, address: str) -> list[str]:
        """Other spellings of a canonical ``address`` that normalize back to it."""

    @abstractmethod
    def pay(self, to: str, amount: int) -> str:
        """Send ``amount`` base units of the token to ``to``; the tx hash as the driver reports it.

        The transfer is in a block once ``mine`` has been called (or at once, on automining
        chains).
        """

    @abstractmethod
    def pay_other_token(self, to: str, amount: int) -> str:
        """Send ``amount`` of a different token to ``to``; the tx hash."""

    @abstractmethod
    def pay_failing(self, to: str, amount: int) -> str | None:
        """Send a token transfer that fails on chain (reverts); None if the chain has no such."""

    @abstractmethod
    def mine(self, count: int = 1) -> int:
        """Produce ``count`` blocks (pending transfers go into the first); the new head."""

    @abstractmethod
    def reorg(self, depth: int) -> None:
        """Replace the newest ``depth`` blocks with empty ones at the same heights."""

    @abstractmethod
    def rate_limit(self, requests: int) -> None:
        """Answer the next ``requests`` node requests with HTTP 429 (Retry-After: 0)."""

    @abstractmethod
    def requests_seen(self) -> int:
        """How many requests the node (or the proxy in front of it) has received so far."""

    def recipient(self, index: int) -> str:
        """A merchant deposit address (account 1 of the test mnemonic) to pay in tests."""
        return self.make_driver().derive_address(account_xpub(self.coin, account=1), index)


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

    def requests_seen(self) -> int:
        """JSON-RPC calls the proxy received, faulted ones included."""
        return sum(self.proxy.received.values())


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

    def requests_seen(self) -> int:
        """HTTP requests the node recorded, faulted ones included."""
        return len(self.node.requests)


#: The harnesses the suite runs, by entry-point name. Add yours here.
HARNESSES: dict[str, type[DriverHarness]] = {"evm": EvmHarness, "tron": TronHarness}
