"""A local anvil node with our Tether-like test token, for tests, demos and benchmarks.

anvil comes from the `@foundry-rs/anvil` npm package (``npm ci`` at the repository root);
set ``ANVIL=/path/to/anvil`` to use another binary. The node mines a block per transaction
(automine), so a transfer is in a block as soon as its hash is returned.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from bip_utils import Bip39SeedGenerator, Bip44, Bip44Changes, Bip44Coins
from eth_account import Account
from web3 import Web3

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN_ARTIFACT = Path(__file__).resolve().with_name("token") / "TestTether.json"
MNEMONIC = "test test test test test test test test test test test junk"
ACCOUNT_COUNT = 10
CHAIN_ID = 31337
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


class DevnetError(RuntimeError):
    """The devnet could not start, or a devnet transaction failed."""


@dataclass(frozen=True, slots=True)
class DevAccount:
    """A funded anvil account: checksummed address and its hex private key."""

    address: str
    private_key: str


def anvil_path() -> Path:
    """The anvil executable: $ANVIL, else node_modules/.bin/anvil of this repository."""
    return Path(os.environ.get("ANVIL") or REPO_ROOT / "node_modules" / ".bin" / "anvil")


def dev_accounts(mnemonic: str = MNEMONIC, count: int = ACCOUNT_COUNT) -> list[DevAccount]:
    """The accounts anvil funds from ``mnemonic`` (m/44'/60'/0'/0/i)."""
    seed = Bip39SeedGenerator(mnemonic).Generate()
    chain = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)
    chain = chain.Change(Bip44Changes.CHAIN_EXT)
    accounts = []
    for i in range(count):
        node = chain.AddressIndex(i)
        key = "0x" + node.PrivateKey().Raw().ToHex()
        accounts.append(DevAccount(Web3.to_checksum_address(node.PublicKey().ToAddress()), key))
    return accounts


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def token_artifact() -> dict[str, Any]:
    """ABI and bytecode of TestTether (built by ``npm run build:token``)."""
    return json.loads(TOKEN_ARTIFACT.read_text())


class Devnet:
    """A running anvil process and helpers to drive it; use ``Devnet.start()``."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Any) -> None:
        self._process = process
        self._log = log
        self.port = port
        self.rpc_url = f"http://127.0.0.1:{port}"
        self.accounts = dev_accounts()
        #: The first token deployed with ``deploy_token`` (the one tests call USDT).
        self.usdt: str | None = None

    @classmethod
    def start(cls, port: int | None = None, timeout: float = START_TIMEOUT) -> Devnet:
        """Launch anvil on ``port`` (a free one when None) and wait until it answers."""
        binary = anvil_path()
        if not binary.exists():
            raise DevnetError(f"anvil not found at {binary}; run `npm ci` or set ANVIL")
        # a port picked by free_port() can be taken before anvil binds it: try a few
        attempts = 1 if port is not None else 3
        for attempt in range(attempts):
            chosen = port if port is not None else free_port()
            # kept open for the node's lifetime; stop() closes it
            log = tempfile.TemporaryFile()  # noqa: SIM115
            process = subprocess.Popen(
                [
                    str(binary),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(chosen),
                    "--silent",
                    "--mnemonic",
                    MNEMONIC,
                    "--accounts",
                    str(ACCOUNT_COUNT),
                    "--chain-id",
                    str(CHAIN_ID),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # its own process group: the npm wrapper spawns the real binary as a child
                start_new_session=True,
            )
            devnet = cls(process, chosen, log)
            try:
                devnet._wait_ready(timeout)
                return devnet
            except DevnetError:
                devnet.stop()
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        delay = 0.02
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DevnetError(f"anvil exited with {self._process.returncode}: {self.output()}")
            try:
                if requests.post(self.rpc_url, json=payload, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        raise DevnetError(f"anvil did not answer within {timeout}s: {self.output()}")

    def output(self) -> str:
        """What anvil wrote to stdout/stderr so far (for error messages)."""
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    @cached_property
    def w3(self) -> Web3:
        """A web3 client on the node."""
        return Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))

    # -- tokens -----------------------------------------------------------------

    def deploy_token(self, sender_index: int = 0) -> str:
        """Deploy a fresh TestTether owned by account ``sender_index``; its checksum address."""
        artifact = token_artifact()
        receipt = self._send(sender_index, None, artifact["bytecode"])
        address = Web3.to_checksum_address(receipt["contractAddress"])
        if self.usdt is None:
            self.usdt = address
        return address

    def token(self, address: str) -> Any:
        """A web3 contract object for the TestTether at ``address`` (for reads)."""
        return self.w3.eth.contract(address=address, abi=token_artifact()["abi"])

    def call_token(self, token: str, function: str, *args: Any, sender_index: int = 0) -> str:
        """Send a raw transaction calling ``function(*args)`` on ``token``; the tx hash."""
        data = self.token(token).encode_abi(function, args=list(args))
        receipt = self._send(sender_index, token, data)
        return Web3.to_hex(receipt["transactionHash"])

    def mint(self, token: str, to: str, amount: int) -> str:
        """Mint ``amount`` base units to ``to`` (as the owner, account 0); the tx hash."""
        return self.call_token(token, "mint", to, amount)

    def transfer(self, token: str, sender_index: int, to: str, amount: int) -> str:
        """Transfer ``amount`` base units from account ``sender_index`` to ``to``; the tx hash."""
        # sent as raw calldata: TestTether.transfer returns nothing, like mainnet USDT
        return self.call_token(token, "transfer", to, amount, sender_index=sender_index)

    def set_fee(self, token: str, basis_points: int) -> str:
        """Set the token's transfer fee in basis points (as the owner); the tx hash."""
        return self.call_token(token, "setFee", basis_points)

    def balance(self, token: str, address: str) -> int:
        """Token balance of ``address`` in base units."""
        return self.token(token).functions.balanceOf(address).call()

    def _send(self, sender_index: int, to: str | None, data: str) -> Any:
        return self.send_raw(self._sign(sender_index, to, data))

    def _sign(self, sender_index: int, to: str | None, data: str) -> bytes:
        account = self.accounts[sender_index]
        w3 = self.w3
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        tx: dict[str, Any] = {
            "chainId": CHAIN_ID,
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "data": data,
            "value": 0,
            "maxPriorityFeePerGas": Web3.to_wei(1, "gwei"),
            # generous, so the same signed transaction still fits after a reorg
            "maxFeePerGas": 4 * base_fee + Web3.to_wei(1, "gwei"),
        }
        if to is not None:
            tx["to"] = to
        tx["gas"] = w3.eth.estimate_gas(tx)
        return bytes(Account.sign_transaction(tx, account.private_key).raw_transaction)

    def signed_transfer(self, token: str, sender_index: int, to: str, amount: int) -> bytes:
        """A signed, unsent token transfer (to send again after a reorg)."""
        return self.signed_call(token, "transfer", to, amount, sender_index=sender_index)

    def signed_call(self, token: str, function: str, *args: Any, sender_index: int = 0) -> bytes:
        """A signed, unsent call of ``function(*args)`` on ``token``."""
        return self._sign(
            sender_index, token, self.token(token).encode_abi(function, args=list(args))
        )

    def send_raw(self, raw: bytes) -> Any:
        """Send a signed transaction and wait for its receipt; DevnetError if it reverted."""
        tx_hash = self.w3.eth.send_raw_transaction(raw)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
        if receipt["status"] != 1:
            raise DevnetError(f"transaction {Web3.to_hex(tx_hash)} reverted")
        return receipt

    # -- chain control ----------------------------------------------------------

    def rpc(self, method: str, *params: Any) -> Any:
        """Call a raw JSON-RPC method (anvil_*, evm_*) and return its result."""
        response = self.w3.provider.make_request(method, list(params))
        if "error" in response:
            raise DevnetError(f"{method}: {response['error']}")
        return response["result"]

    def mine(self, n: int = 1) -> int:
        """Mine ``n`` empty blocks; the new head number."""
        self.rpc("anvil_mine", hex(n))
        return self.w3.eth.block_number

    def snapshot(self) -> str:
        """Snapshot the chain state; pass the id to ``revert``."""
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> bool:
        """Return to a snapshot (which is used up); True on success."""
        return bool(self.rpc("evm_revert", snapshot_id))

    # -- lifecycle --------------------------------------------------------------

    def stop(self) -> None:
        """Terminate anvil (SIGTERM, then SIGKILL after a grace period)."""
        if self._process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._process.wait(STOP_TIMEOUT)
        # the wrapper may be gone while the real binary lingers in the group
        self._signal(signal.SIGKILL)
        self._log.close()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    def __enter__(self) -> Devnet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
