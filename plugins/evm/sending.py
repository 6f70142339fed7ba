"""The send side of the EVM driver: build, sign, decode and broadcast ERC-20 transfers.

A payout is an EIP-1559 (type 2) transaction calling ``transfer(to, amount)`` on the token,
with value 0. Tether's ``transfer`` returns nothing, so no return value is ever decoded:
success is the receipt's status. Signed bytes from anywhere are decoded and checked field by
field (a legacy EIP-155 transaction is accepted too) before they are trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rlp
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction
from eth_account.typed_transactions import TypedTransaction
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError
from hexbytes import HexBytes
from web3 import Web3

from plugins.base import DriverError, Outgoing, Rejected, Signed, TxState, TxStatus
from plugins.evm.rpc import RpcError, hash32, hex_bytes, is_rate_limit, quantity, result_of
from plugins.evm.settings import normalize_address

if TYPE_CHECKING:
    from plugins.evm.driver import EvmDriver

TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
BALANCE_OF = bytes.fromhex("70a08231")  # balanceOf(address)
GAS_MARGIN = 25  # percent over eth_estimateGas: storage costs can shift before inclusion
# A transfer the node expects to revert cannot be estimated; it is still built, so that the
# core can send what it approved and see it FAIL: Tether's transfer uses well under this.
REVERTING_TRANSFER_GAS = 100_000
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0

# Lower-case fragments of eth_sendRawTransaction errors (geth, erigon, nethermind, reth,
# besu, anvil): the node has these very bytes already.
ALREADY_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown")
NONCE_USED = ("nonce too low", "nonce is too low", "oldnonce", "nonce has already been used")
# ...or refuses them as they stand: the same bytes cannot succeed later.
REFUSED = (
    "insufficient funds",
    "invalid sender",
    "invalid signature",
    "invalid transaction",
    "intrinsic gas too low",
    "exceeds block gas limit",
    "underpriced",
    "higher than max fee",
    "higher than the max fee",
    "tip higher than fee cap",
    "exceeds the configured cap",
    "invalid chain id",
    "incorrect chain id",
)


class EvmPayouts:
    """ChainDriver's send side for EvmDriver (mixed in; uses its node calls and settings)."""

    def balance(self: EvmDriver, address: str) -> int:
        """Token balance from ``balanceOf`` (eth_call at the head)."""
        self._ensure_chain()
        data = "0x" + (BALANCE_OF + _word(hex_bytes(normalize_address(address)))).hex()
        call = {"to": self.settings.token, "data": data}
        raw = hex_bytes(self._call("eth_call", [call, "latest"]))
        if len(raw) != 32:
            raise DriverError(f"{self.settings.token} does not answer balanceOf()")
        return int.from_bytes(raw, "big")

    def native_balance(self: EvmDriver, address: str) -> int:
        """Wei at the head (eth_getBalance)."""
        self._ensure_chain()
        return quantity(self._call("eth_getBalance", [normalize_address(address), "latest"]))

    def address_of_key(self, private_key: bytes) -> str:
        """The checksummed address of a secp256k1 private key."""
        return _account(private_key).address

    def build_transfer(
        self: EvmDriver,
        sender: str,
        to: str,
        amount: int,
        nonce: int | None = None,
        fee_bump: int = 0,
    ) -> Outgoing:
        """An unsigned type-2 ``transfer(to, amount)``; fee caps from the node, raised by
        ``fee_bump`` percent (a replacement needs at least 10 on most nodes)."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount must be a positive integer of base units")
        if isinstance(fee_bump, bool) or not isinstance(fee_bump, int) or fee_bump < 0:
            raise ValueError("fee_bump must be a non-negative integer percent")
        if nonce is not None and (isinstance(nonce, bool) or not isinstance(nonce, int)):
            raise ValueError("nonce must be an integer")
        sender = normalize_address(sender)
        data = TRANSFER_SELECTOR + _word(hex_bytes(normalize_address(to))) + _word(amount)
        self._ensure_chain()
        if nonce is None:
            nonce = quantity(self._call("eth_getTransactionCount", [sender, "pending"]))
        head = self._call("eth_getBlockByNumber", ["latest", False])
        if not isinstance(head, dict) or head.get("baseFeePerGas") is None:
            raise DriverError(f"{self.name}: the node's head has no base fee (no EIP-1559)")
        base_fee, tip = quantity(head["baseFeePerGas"]), self._priority_fee(head)
        call = {"from": sender, "to": self.settings.token, "data": "0x" + data.hex()}
        gas = self._estimate_gas(call)
        unsigned = {
            "type": 2,
            "chainId": self.settings.chain_id,
            "nonce": nonce,
            "to": self.settings.token,
            "value": 0,
            "data": "0x" + data.hex(),
            "gas": gas,
            # twice the base fee rides out six full blocks of +12.5% before the cap binds
            "maxFeePerGas": _raised(2 * base_fee + tip, fee_bump),
            "maxPriorityFeePerGas": _raised(tip, fee_bump),
            "accessList": [],
        }
        return self._outgoing(sender, unsigned)

    def sign(self: EvmDriver, transfer: Outgoing, private_key: bytes) -> Signed:
        """Sign the unsigned transaction dict with eth_account."""
        account = _account(private_key)
        if account.address != transfer.sender:
            raise ValueError("the key is not the sender's")
        raw = account.sign_transaction(transfer.unsigned).raw_transaction
        signed = self.decode("0x" + bytes(raw).hex())
        if signed.transfer != transfer:
            raise ValueError("the transfer does not match its unsigned transaction")
        return signed

    def decode(self: EvmDriver, raw: str) -> Signed:
        """Raw signed bytes (0x-hex), checked to be a transfer of this chain's token."""
        try:
            data = bytes.fromhex(raw.removeprefix("0x"))
            if data[:1] == b"\x02":
                fields = TypedTransaction.from_bytes(HexBytes(data)).as_dict()
                if fields.get("accessList"):
                    raise ValueError("an access list is not expected in a transfer")
                y_parity = fields["v"]
                chain_id = fields["chainId"]
            elif data[:1] >= b"\xc0":
                fields = Transaction.from_bytes(data).as_dict()
                if fields["v"] in (27, 28):
                    raise ValueError("a legacy transaction without a chain id (EIP-155)")
                y_parity, chain_id = (fields["v"] - 35) % 2, (fields["v"] - 35) // 2
            else:
                raise ValueError("not a type-2 or legacy transaction")
            sender = Account.recover_transaction(data)
        except (AttributeError, TypeError, KeyError, IndexError, rlp.DecodingError) as exc:
            raise ValueError(f"not a signed transaction ({type(exc).__name__})") from None
        except (BadSignature, ValidationError, rlp.DeserializationError) as exc:
            raise ValueError(f"not a validly signed transaction ({exc})") from None
        if y_parity not in (0, 1) or not 0 < fields["s"] <= SECP256K1_HALF_N:
            raise ValueError("the signature is not in canonical form (EIP-2)")
        if chain_id != self.settings.chain_id:
            raise ValueError(f"signed for chain {chain_id}, not {self.settings.chain_id}")
        to = fields.get("to") or b""
        if len(to) != 20 or Web3.to_checksum_address(to) != self.settings.token:
            raise ValueError("the transaction does not call the token contract")
        if fields["value"] != 0:
            raise ValueError("the transaction sends ether")
        _transfer_args(bytes(fields["data"]))
        unsigned: dict[str, Any] = {"chainId": chain_id, "nonce": fields["nonce"]}
        if "gasPrice" in fields:
            unsigned.update(to=self.settings.token, value=0, data="0x" + fields["data"].hex())
            unsigned.update(gas=fields["gas"], gasPrice=fields["gasPrice"])
        else:
            unsigned = {
                "type": 2,
                **unsigned,
                "to": self.settings.token,
                "value": 0,
                "data": "0x" + bytes(fields["data"]).hex(),
                "gas": fields["gas"],
                "maxFeePerGas": fields["maxFeePerGas"],
                "maxPriorityFeePerGas": fields["maxPriorityFeePerGas"],
                "accessList": [],
            }
        transfer = self._outgoing(sender, unsigned)
        return Signed("0x" + data.hex(), Web3.to_hex(Web3.keccak(data)), transfer)

    def broadcast(self: EvmDriver, signed: Signed) -> None:
        """eth_sendRawTransaction; bytes the node already has (pooled or mined) are sent."""
        self._ensure_chain()
        ok, answer = self._attempt("eth_sendRawTransaction", [signed.raw])
        if ok:
            if hash32(answer) != signed.tx_hash:
                raise DriverError("eth_sendRawTransaction: the node hashed another transaction")
            return
        lowered = answer.lower()
        if any(text in lowered for text in ALREADY_KNOWN):
            return
        if any(text in lowered for text in NONCE_USED):
            # the nonce is spent: by these very bytes (sent), or by another transaction
            if self.transaction_status(signed.tx_hash).state is not TxState.UNKNOWN:
                return
            raise Rejected(f"eth_sendRawTransaction: {answer} (used by another transaction)")
        if any(text in lowered for text in REFUSED):
            raise Rejected(f"eth_sendRawTransaction: {answer}")
        # e.g. "max fee per gas less than block base fee": it may fit a later block
        raise DriverError(f"eth_sendRawTransaction: {answer}")

    def transaction_status(self: EvmDriver, tx_hash: str, raw: str | None = None) -> TxStatus:
        """From the receipt and the transaction, read in one batch (one backend). ``raw`` is
        not needed: an EVM transaction never expires, a later one with its nonce replaces it."""
        self._ensure_chain()
        receipt, tx = self._batch(
            "eth_getTransactionReceipt",
            [("eth_getTransactionReceipt", [tx_hash]), ("eth_getTransactionByHash", [tx_hash])],
        )
        if receipt is None:
            return TxStatus(TxState.PENDING if tx is not None else TxState.UNKNOWN)
        try:
            price = receipt.get("effectiveGasPrice") or (tx or {}).get("gasPrice")
            fee = quantity(receipt["gasUsed"]) * quantity(price)
            state = TxState.MINED if quantity(receipt["status"]) == 1 else TxState.FAILED
            number, block_hash = quantity(receipt["blockNumber"]), hash32(receipt["blockHash"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise DriverError("eth_getTransactionReceipt: malformed receipt") from None
        return TxStatus(state, number, block_hash, fee)

    # ---- internals ----

    def _outgoing(self: EvmDriver, sender: str, unsigned: dict[str, Any]) -> Outgoing:
        """The Outgoing of a transaction dict: what build_transfer and decode both return."""
        to, amount = _transfer_args(hex_bytes(unsigned["data"]))
        cap = unsigned.get("maxFeePerGas", unsigned.get("gasPrice"))
        tip = unsigned.get("maxPriorityFeePerGas", cap)
        return Outgoing(
            sender=sender,
            to=Web3.to_checksum_address(to),
            amount=amount,
            token=self.settings.token,
            fields={
                "chain_id": unsigned["chainId"],
                "nonce": unsigned["nonce"],
                "gas": unsigned["gas"],
                "max_fee_per_gas": cap,
                "max_priority_fee_per_gas": tip,
            },
            unsigned=unsigned,
            max_fee=unsigned["gas"] * cap,
        )

    def _priority_fee(self: EvmDriver, head: dict[str, Any]) -> int:
        """The node's suggested tip; from eth_gasPrice where eth_maxPriorityFeePerGas is absent."""
        ok, answer = self._attempt("eth_maxPriorityFeePerGas", [])
        if ok:
            return quantity(answer)
        price = quantity(self._call("eth_gasPrice", []))
        return max(0, price - quantity(head["baseFeePerGas"]))

    def _estimate_gas(self: EvmDriver, call: dict[str, Any]) -> int:
        """eth_estimateGas plus a margin; a fixed limit for a transfer the node says reverts."""
        # at "latest": a node estimating on its pending block would count a transaction this
        # one replaces (its recipient already credited, a cheaper storage write)
        ok, answer = self._attempt("eth_estimateGas", [call, "latest"])
        if ok:
            return quantity(answer) * (100 + GAS_MARGIN) // 100
        if "revert" in answer.lower():
            return REVERTING_TRANSFER_GAS
        raise DriverError(f"eth_estimateGas: {answer}")

    def _attempt(self: EvmDriver, method: str, params: list[Any]) -> tuple[bool, Any]:
        """(True, result) or (False, the node's error message): rate limits and transport
        trouble still raise through the driver's retry rules."""

        def run() -> tuple[bool, Any]:
            try:
                return True, result_of(self._provider.make_request(method, params))
            except RpcError as exc:
                if is_rate_limit(str(exc)):
                    raise
                return False, str(exc)

        return self._request(method, run)


def _transfer_args(data: bytes) -> tuple[bytes, int]:
    """(recipient's 20 bytes, amount) of ``transfer(address,uint256)`` call data."""
    if len(data) != 68 or data[:4] != TRANSFER_SELECTOR:
        raise ValueError("the call is not transfer(address,uint256)")
    if any(data[4:16]):
        raise ValueError("the recipient word has bytes above the address")
    return data[16:36], int.from_bytes(data[36:68], "big")


def _word(value: int | bytes) -> bytes:
    """A 32-byte ABI word: an int, or an address's 20 bytes left-padded."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value.rjust(32, b"\0")


def _raised(value: int, percent: int) -> int:
    """``value`` raised by ``percent``, rounded up (a replacement must clear the bar)."""
    return -(-value * (100 + percent) // 100)


def _account(private_key: bytes) -> Any:
    try:
        return Account.from_key(bytes(private_key))
    except (TypeError, ValueError, ValidationError):
        raise ValueError("not a 32-byte secp256k1 private key") from None
