"""A TRON transaction's raw data as protobuf: the bytes its txID hashes and its owner signs.

Only what a TRC-20 ``transfer`` needs: ``Transaction.raw`` holding one TriggerSmartContract
(field numbers of java-tron's ``core/Tron.proto`` and ``core/contract/smart_contract.proto``).
Parsing is strict: any other field, a repeated one, or bytes that do not re-encode to
themselves (non-canonical varints, defaults written out) are refused, so the parsed call is
the only thing the bytes can mean. tronpy 0.6.2 encodes only through the optional protobuf
package, which this project does not install.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

TRIGGER_SMART_CONTRACT = 31  # Transaction.Contract.ContractType
TRIGGER_TYPE_URL = "type.googleapis.com/protocol.TriggerSmartContract"
VARINT, LENGTH = 0, 2

# field numbers
RAW_REF_BLOCK_BYTES, RAW_REF_BLOCK_HASH, RAW_EXPIRATION = 1, 4, 8
RAW_CONTRACT, RAW_TIMESTAMP, RAW_FEE_LIMIT = 11, 14, 18
CONTRACT_TYPE, CONTRACT_PARAMETER = 1, 2
ANY_TYPE_URL, ANY_VALUE = 1, 2
CALL_OWNER, CALL_CONTRACT, CALL_DATA = 1, 2, 4


@dataclass(frozen=True, slots=True)
class RawCall:
    """``Transaction.raw`` of one TriggerSmartContract with no TRX or TRC-10 attached."""

    ref_block_bytes: bytes
    ref_block_hash: bytes
    expiration: int  # ms
    timestamp: int  # ms
    fee_limit: int  # sun
    owner: bytes  # 21 bytes, 0x41 first
    contract: bytes
    data: bytes

    def encode(self) -> bytes:
        """The canonical protobuf bytes (fields in number order, defaults omitted)."""
        call = (
            _bytes(CALL_OWNER, self.owner)
            + _bytes(CALL_CONTRACT, self.contract)
            + _bytes(CALL_DATA, self.data)
        )
        any_msg = _bytes(ANY_TYPE_URL, TRIGGER_TYPE_URL.encode()) + _bytes(ANY_VALUE, call)
        contract = _int(CONTRACT_TYPE, TRIGGER_SMART_CONTRACT) + _bytes(CONTRACT_PARAMETER, any_msg)
        return (
            _bytes(RAW_REF_BLOCK_BYTES, self.ref_block_bytes)
            + _bytes(RAW_REF_BLOCK_HASH, self.ref_block_hash)
            + _int(RAW_EXPIRATION, self.expiration)
            + _bytes(RAW_CONTRACT, contract)
            + _int(RAW_TIMESTAMP, self.timestamp)
            + _int(RAW_FEE_LIMIT, self.fee_limit)
        )

    @property
    def txid(self) -> str:
        """sha256 of the raw bytes, in hex: the transaction's id and what is signed."""
        return hashlib.sha256(self.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """``raw_data`` as java-tron prints it with ``visible`` false (hex addresses); what
        broadcasttransaction re-encodes, so it must say exactly what the bytes say."""
        value = {"owner_address": self.owner.hex(), "contract_address": self.contract.hex()}
        if self.data:
            value = {"data": self.data.hex(), **value}
        out: dict[str, Any] = {
            "contract": [
                {
                    "parameter": {"value": value, "type_url": TRIGGER_TYPE_URL},
                    "type": "TriggerSmartContract",
                }
            ],
            "ref_block_bytes": self.ref_block_bytes.hex(),
            "ref_block_hash": self.ref_block_hash.hex(),
        }
        for key, number in (
            ("expiration", self.expiration),
            ("fee_limit", self.fee_limit),
            ("timestamp", self.timestamp),
        ):
            if number:
                out[key] = number
        return out


def parse(raw: bytes) -> RawCall:
    """The call ``raw`` encodes; ValueError for anything but one canonical TriggerSmartContract."""
    fields = _fields(raw, {RAW_REF_BLOCK_BYTES, RAW_REF_BLOCK_HASH, RAW_EXPIRATION, RAW_CONTRACT,
                           RAW_TIMESTAMP, RAW_FEE_LIMIT}, "Transaction.raw")  # fmt: skip
    contract = _fields(
        _get(fields, RAW_CONTRACT, b""), {CONTRACT_TYPE, CONTRACT_PARAMETER}, "Contract"
    )
    if _get(contract, CONTRACT_TYPE, 0) != TRIGGER_SMART_CONTRACT:
        raise ValueError("not a TriggerSmartContract")
    parameter = _fields(_get(contract, CONTRACT_PARAMETER, b""), {ANY_TYPE_URL, ANY_VALUE}, "Any")
    if _get(parameter, ANY_TYPE_URL, b"") != TRIGGER_TYPE_URL.encode():
        raise ValueError("the contract's type_url is not TriggerSmartContract's")
    call = _fields(
        _get(parameter, ANY_VALUE, b""),
        {CALL_OWNER, CALL_CONTRACT, CALL_DATA},  # call_value, token: absent means 0
        "TriggerSmartContract",
    )
    parsed = RawCall(
        ref_block_bytes=_get(fields, RAW_REF_BLOCK_BYTES, b""),
        ref_block_hash=_get(fields, RAW_REF_BLOCK_HASH, b""),
        expiration=_get(fields, RAW_EXPIRATION, 0),
        timestamp=_get(fields, RAW_TIMESTAMP, 0),
        fee_limit=_get(fields, RAW_FEE_LIMIT, 0),
        owner=_get(call, CALL_OWNER, b""),
        contract=_get(call, CALL_CONTRACT, b""),
        data=_get(call, CALL_DATA, b""),
    )
    for address in (parsed.owner, parsed.contract):
        if len(address) != 21 or address[0] != 0x41:
            raise ValueError("an address is not 21 bytes starting with 0x41")
    if parsed.encode() != raw:
        raise ValueError("the raw data is not canonically encoded")
    return parsed


def _fields(data: Any, allowed: set[int], what: str) -> dict[int, int | bytes]:
    """Field number -> value of one message; ValueError for unknown, repeated or broken fields."""
    if not isinstance(data, bytes):
        raise ValueError(f"{what} is not a message")
    out: dict[int, int | bytes] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, pos = _varint(data, pos)
        elif wire_type == LENGTH:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError(f"{what}: field {number} runs past the end")
            value, pos = data[pos : pos + size], pos + size
        else:
            raise ValueError(f"{what}: wire type {wire_type} is not used here")
        if number not in allowed:
            raise ValueError(f"{what}: unexpected field {number}")
        if number in out:
            raise ValueError(f"{what}: field {number} appears twice")
        out[number] = value
    return out


def _get(fields: dict[int, int | bytes], number: int, default: Any) -> Any:
    value = fields.get(number, default)
    if type(value) is not type(default):
        raise ValueError(f"field {number} has the wrong wire type")
    return value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or oversized varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _encode_varint(n: int) -> bytes:
    if n < 0:  # int64 negatives are ten-byte two's complement varints
        n += 1 << 64
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def _int(number: int, value: int) -> bytes:
    return _encode_varint(number << 3 | VARINT) + _encode_varint(value) if value else b""


def _bytes(number: int, value: bytes) -> bytes:
    if not value:
        return b""
    return _encode_varint(number << 3 | LENGTH) + _encode_varint(len(value)) + value


def signed_size(raw: bytes) -> int:
    """Bytes of the signed ``Transaction`` (raw data + one 65-byte signature, no ``ret``)."""
    return len(_bytes(1, raw)) + len(_bytes(2, bytes(65)))
