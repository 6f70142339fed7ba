"""The send side of the TRON driver: build, sign, decode and broadcast TRC-20 transfers.

A transfer is built by the node (``wallet/triggersmartcontract``), checked byte for byte
against what was asked, given a longer expiration, and re-hashed. What is signed, decoded
and broadcast is always the protobuf ``raw_data_hex``: the JSON ``raw_data`` that
broadcasttransaction re-encodes must say exactly the same, or decode refuses it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import base58
from tronpy.exceptions import BadKey, BadSignature
from tronpy.keys import PrivateKey, Signature

from plugins.base import DriverError, Outgoing, RateLimited, Rejected, Signed, TxState, TxStatus
from plugins.tron import proto
from plugins.tron.settings import MAX_FEE_LIMIT, ZERO_OWNER, normalize_address

if TYPE_CHECKING:
    from plugins.tron.driver import TronDriver

TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
BALANCE_OF = "balanceOf(address)"
BANDWIDTH_PRICE = 1_000  # sun a byte when no free bandwidth is left (mainnet)
RESULT_BYTES = 64  # java-tron bills every transaction 64 bytes for its result
# broadcasttransaction codes that the same bytes will meet again [reference §7]
REFUSALS = {
    "SIGERROR",
    "CONTRACT_VALIDATE_ERROR",
    "CONTRACT_EXE_ERROR",
    "BANDWITH_ERROR",
    "TAPOS_ERROR",
    "TRANSACTION_EXPIRATION_ERROR",
    "TOO_BIG_TRANSACTION_ERROR",
}
SLOW_DOWN = {"SERVER_BUSY"}  # the node's pending queue is full


class TronPayouts:
    """ChainDriver's send side for TronDriver (mixed in; uses its node calls and settings)."""

    def balance(self: TronDriver, address: str) -> int:
        """Token balance from the contract's ``balanceOf`` (triggerconstantcontract)."""
        holder = _raw(normalize_address(address))
        word = self._request(
            "balanceOf",
            lambda: self.client.trigger_const_smart_contract_function(
                ZERO_OWNER, self._settings.token, BALANCE_OF, _word(holder).hex()
            ),
        )
        try:
            return int(word, 16)
        except (TypeError, ValueError):
            raise DriverError(f"balanceOf of {self._settings.token} gave {word!r}") from None

    def native_balance(self: TronDriver, address: str) -> int:
        """TRX in sun from ``getaccount``; an account never created (``{}``) has none."""
        reply = self._call(
            "wallet/getaccount", {"address": normalize_address(address), "visible": True}
        )
        if not isinstance(reply, dict) or not isinstance(reply.get("balance", 0), int):
            raise DriverError("wallet/getaccount: malformed account")
        return reply.get("balance", 0)

    def address_of_key(self, private_key: bytes) -> str:
        """The base58 address of a secp256k1 private key."""
        return _key(private_key).public_key.to_base58check_address()

    def build_transfer(
        self: TronDriver,
        sender: str,
        to: str,
        amount: int,
        nonce: int | None = None,
        fee_bump: int = 0,
    ) -> Outgoing:
        """An unsigned ``transfer(to, amount)`` built by the node; ``nonce`` is ignored (TRON has
        none) and ``fee_bump`` raises ``fee_limit`` by that many percent."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount must be a positive integer of base units")
        if isinstance(fee_bump, bool) or not isinstance(fee_bump, int) or fee_bump < 0:
            raise ValueError("fee_bump must be a non-negative integer percent")
        owner, recipient = _raw(normalize_address(sender)), _raw(normalize_address(to))
        data = TRANSFER_SELECTOR + _word(recipient) + _word(amount)
        fee_limit = min(MAX_FEE_LIMIT, self._settings.fee_limit * (100 + fee_bump) // 100)
        reply = self._call(
            "wallet/triggersmartcontract",
            {
                "owner_address": owner.hex(),
                "contract_address": self._token_raw.hex(),
                "function_selector": "transfer(address,uint256)",
                "parameter": data[4:].hex(),
                "fee_limit": fee_limit,
                "call_value": 0,
                "visible": False,
            },
        )
        call = _built_call(reply)
        expected = (owner, self._token_raw, data, fee_limit)
        if (call.owner, call.contract, call.data, call.fee_limit) != expected:
            raise DriverError("wallet/triggersmartcontract built another transaction")
        # java-tron gives 60 s after its head; an offline signer or a busy core needs longer
        longer = call.timestamp + self._settings.expiration_seconds * 1000
        return self._outgoing(replace(call, expiration=max(call.expiration, longer)))

    def sign(self: TronDriver, transfer: Outgoing, private_key: bytes) -> Signed:
        """Sign the txID (sha256 of ``raw_data_hex``) with a recoverable secp256k1 signature."""
        key = _key(private_key)
        if key.public_key.to_base58check_address() != transfer.sender:
            raise ValueError("the key is not the sender's")
        txid = str(transfer.unsigned.get("txID", ""))
        signature = key.sign_msg_hash(bytes.fromhex(txid)).hex()
        signed = self.decode(json.dumps({**transfer.unsigned, "signature": [signature]}))
        if signed.transfer != transfer:
            raise ValueError("the transfer does not match its unsigned transaction")
        return signed

    def decode(self: TronDriver, raw: str) -> Signed:
        """A signed transaction's JSON, checked against its own bytes and signature."""
        try:
            tx = json.loads(raw)
        except (TypeError, ValueError):
            raise ValueError("not a JSON transaction") from None
        if not isinstance(tx, dict) or tx.get("visible", False) is not False:
            raise ValueError("expected a transaction object with hex addresses (visible false)")
        try:
            raw_bytes = bytes.fromhex(tx["raw_data_hex"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("raw_data_hex is missing or not hex") from None
        call = proto.parse(raw_bytes)
        if str(tx.get("txID", "")).lower() != call.txid:
            raise ValueError("txID is not the sha256 of raw_data_hex")
        if tx.get("raw_data") != call.to_json():
            # the node executes raw_data, the signature covers raw_data_hex: they must agree
            raise ValueError("raw_data does not say what raw_data_hex says")
        if call.contract != self._token_raw:
            raise ValueError("the transaction calls another contract than the token")
        _transfer_args(call.data)
        signatures = tx.get("signature")
        if not isinstance(signatures, list) or len(signatures) != 1:
            raise ValueError("expected exactly one signature")
        try:
            signature = Signature(bytes.fromhex(signatures[0]))
            signer = signature.recover_public_key_from_msg_hash(bytes.fromhex(call.txid))
        except (BadSignature, TypeError, ValueError):
            raise ValueError("the signature is malformed") from None
        if _raw(signer.to_base58check_address()) != call.owner:
            raise ValueError("the signature is not the owner's")
        transfer = self._outgoing(call)
        text = json.dumps({**transfer.unsigned, "signature": [signature.hex()]})
        return Signed(raw=text, tx_hash=call.txid, transfer=transfer)

    def broadcast(self: TronDriver, signed: Signed) -> None:
        """``wallet/broadcasttransaction``; a transaction the node already has is a success."""
        reply = self._call("wallet/broadcasttransaction", json.loads(signed.raw))
        if not isinstance(reply, dict):
            raise DriverError("wallet/broadcasttransaction: malformed answer")
        if reply.get("txid", signed.tx_hash) != signed.tx_hash:
            raise DriverError("wallet/broadcasttransaction: the node hashed another transaction")
        if reply.get("result") is True:
            return
        code = str(reply.get("code", ""))
        what = f"wallet/broadcasttransaction: {code}: {_text(reply.get('message', ''))}"
        if code == "DUP_TRANSACTION_ERROR":
            return
        if code in SLOW_DOWN:
            raise RateLimited(what)
        if code not in REFUSALS:
            raise DriverError(what)
        # java-tron checks expiration and TAPOS before duplicates, so bytes it already
        # packed come back refused once they are old: in a block, they are sent
        if self.transaction_status(signed.tx_hash).state is not TxState.UNKNOWN:
            return
        if code == "TAPOS_ERROR" and self._ref_block_is_canonical(signed.transfer.fields):
            raise DriverError(f"{what} (the answering backend lacks the reference block)")
        raise Rejected(what)

    def transaction_status(self: TronDriver, tx_hash: str, raw: str | None = None) -> TxStatus:
        """MINED or FAILED from the receipt; PENDING from the node's queue; EXPIRED (needs
        ``raw``, the signed transaction) when the solidified head is past its expiration."""
        info = self._call("wallet/gettransactioninfobyid", {"value": tx_hash})
        if isinstance(info, dict) and info.get("id") == tx_hash:
            return self._in_block(tx_hash, info)
        queued = self._call("wallet/gettransactionfrompending", {"value": tx_hash})
        if isinstance(queued, dict) and queued.get("txID") == tx_hash:
            return TxStatus(TxState.PENDING)
        if raw is None:
            return TxStatus(TxState.UNKNOWN)
        signed = self.decode(raw)
        if signed.tx_hash != tx_hash:
            raise ValueError("raw is another transaction")
        # A block can hold the transaction only if its parent is older than the expiration.
        # Once the solidified head is that old, every such block is at or below it: final.
        solid = self._call("walletsolidity/getnowblock", {})
        try:
            solid_ms = int(solid["block_header"]["raw_data"]["timestamp"])
        except (KeyError, TypeError, ValueError):
            raise DriverError("walletsolidity/getnowblock: malformed block") from None
        if solid_ms < signed.transfer.fields["expiration"]:
            return TxStatus(TxState.UNKNOWN)
        final = self._call("walletsolidity/gettransactioninfobyid", {"value": tx_hash})
        if isinstance(final, dict) and final.get("id") == tx_hash:
            return self._in_block(tx_hash, final)
        return TxStatus(TxState.EXPIRED)

    # ---- internals ----

    @property
    def _token_raw(self: TronDriver) -> bytes:
        return b"\x41" + bytes.fromhex(self._token_hex)

    def _outgoing(self: TronDriver, call: proto.RawCall) -> Outgoing:
        """The Outgoing of a parsed transfer call: what build_transfer and decode both return."""
        to, amount = _transfer_args(call.data)
        raw = call.encode()
        return Outgoing(
            sender=_base58(call.owner),
            to=_base58(to),
            amount=amount,
            token=self._settings.token,
            fields={
                "ref_block_bytes": call.ref_block_bytes.hex(),
                "ref_block_hash": call.ref_block_hash.hex(),
                "expiration": call.expiration,
                "timestamp": call.timestamp,
                "fee_limit": call.fee_limit,
            },
            unsigned={
                "visible": False,
                "txID": call.txid,
                "raw_data": call.to_json(),
                "raw_data_hex": raw.hex(),
            },
            # energy burns at most fee_limit; bandwidth, when no free bandwidth is left,
            # costs the signed size plus the result's 64 bytes
            max_fee=call.fee_limit + (proto.signed_size(raw) + RESULT_BYTES) * BANDWIDTH_PRICE,
        )

    def _in_block(self: TronDriver, tx_hash: str, info: dict[str, Any]) -> TxStatus:
        """MINED/FAILED with the block's hash, proven by the block listing the transaction."""
        try:
            number = int(info["blockNumber"])
            fee = int(info.get("fee", 0))
        except (KeyError, TypeError, ValueError):
            raise DriverError("wallet/gettransactioninfobyid: malformed receipt") from None
        block = self._raw_block(number)
        listed = {tx.get("txID") for tx in block.get("transactions", ())}
        if tx_hash not in listed:
            raise DriverError(f"block {number} changed while being read")
        ok = info.get("receipt", {}).get("result") == "SUCCESS" and info.get("result") != "FAILED"
        return TxStatus(TxState.MINED if ok else TxState.FAILED, number, block["blockID"], fee)

    def _ref_block_is_canonical(self: TronDriver, fields: dict[str, Any]) -> bool:
        """Whether the node holds the transaction's reference block (the newest block whose
        number ends in ``ref_block_bytes``, at or below its head)."""
        head = self.tip().number
        low = int(fields["ref_block_bytes"], 16)
        number = head - (head - low) % 0x10000
        block = self._raw_block(number) if number >= 0 else {}
        return str(block.get("blockID", ""))[16:32] == fields["ref_block_hash"]


def _built_call(reply: Any) -> proto.RawCall:
    """The call a triggersmartcontract answer holds, its txID checked."""
    result = reply.get("result", {}) if isinstance(reply, dict) else {}
    if not isinstance(result, dict) or result.get("result") is not True:
        code = result.get("code", "no result") if isinstance(result, dict) else "no result"
        message = _text(result.get("message", "")) if isinstance(result, dict) else ""
        raise DriverError(f"wallet/triggersmartcontract: {code}: {message}")
    try:
        tx = reply["transaction"]
        raw = bytes.fromhex(tx["raw_data_hex"])
        call = proto.parse(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise DriverError(f"wallet/triggersmartcontract: unusable transaction ({exc})") from None
    if tx.get("txID") != hashlib.sha256(raw).hexdigest():
        raise DriverError("wallet/triggersmartcontract: txID is not the hash of raw_data_hex")
    return call


def _transfer_args(data: bytes) -> tuple[bytes, int]:
    """(recipient as 21 bytes, amount) of ``transfer(address,uint256)`` call data."""
    if len(data) != 68 or data[:4] != TRANSFER_SELECTOR:
        raise ValueError("the call is not transfer(address,uint256)")
    if any(data[4:16]):
        raise ValueError("the recipient word has bytes above the address")
    return b"\x41" + data[16:36], int.from_bytes(data[36:68], "big")


def _key(private_key: bytes) -> PrivateKey:
    try:
        return PrivateKey(bytes(private_key))
    except (BadKey, TypeError, ValueError):
        raise ValueError("not a 32-byte secp256k1 private key") from None


def _word(value: int | bytes) -> bytes:
    """A 32-byte ABI word: an int, or an address's 20 bytes left-padded."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value[-20:].rjust(32, b"\0")


def _raw(address: str) -> bytes:
    return base58.b58decode_check(address)


def _base58(raw: bytes) -> str:
    return base58.b58encode_check(raw).decode()


def _text(message: Any) -> str:
    """A Return message: hex of UTF-8 unless the call was visible [reference §0]."""
    text = str(message)
    try:
        return bytes.fromhex(text).decode()
    except ValueError:
        return text
