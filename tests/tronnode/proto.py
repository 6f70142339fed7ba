"""Just enough protobuf encoding to hash block headers and transactions as java-tron does.

Field numbers are from java-tron's ``core/Tron.proto``. proto3 skips default values on the
wire as well as in JSON, so the encoders below drop zero ints and empty bytes.
"""

from __future__ import annotations

import hashlib


def _varint(n: int) -> bytes:
    if n < 0:  # int64 negatives are ten-byte two's complement varints
        n += 1 << 64
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def int_field(number: int, value: int) -> bytes:
    """A varint field (int32/int64/enum), omitted at 0."""
    return _varint(number << 3) + _varint(value) if value else b""


def bytes_field(number: int, value: bytes) -> bytes:
    """A length-delimited field (bytes/string/sub-message), omitted when empty."""
    return _varint(number << 3 | 2) + _varint(len(value)) + value if value else b""


def block_header_raw(
    *,
    timestamp: int,
    tx_trie_root: bytes,
    parent_hash: bytes,
    number: int,
    witness_address: bytes,
    version: int,
) -> bytes:
    """``BlockHeader.raw`` (fields 1, 2, 3, 7, 9, 10 of java-tron's Tron.proto)."""
    return (
        int_field(1, timestamp)
        + bytes_field(2, tx_trie_root)
        + bytes_field(3, parent_hash)
        + int_field(7, number)
        + bytes_field(9, witness_address)
        + int_field(10, version)
    )


def block_id(number: int, raw_header: bytes) -> str:
    """8-byte big-endian number ‖ bytes 8..31 of sha256(raw header) [SRC generateBlockId]."""
    digest = hashlib.sha256(raw_header).digest()
    return (number.to_bytes(8, "big") + digest[8:]).hex()


TRIGGER_SMART_CONTRACT = 31  # Transaction.Contract.ContractType
TRIGGER_TYPE_URL = "type.googleapis.com/protocol.TriggerSmartContract"


def trigger_raw_data(
    *,
    owner: bytes,
    contract: bytes,
    data: bytes,
    ref_block_bytes: bytes,
    ref_block_hash: bytes,
    expiration: int,
    timestamp: int,
    fee_limit: int,
) -> bytes:
    """``Transaction.raw`` holding one ``TriggerSmartContract`` (call_value etc. at 0)."""
    call = bytes_field(1, owner) + bytes_field(2, contract) + bytes_field(4, data)
    any_msg = bytes_field(1, TRIGGER_TYPE_URL.encode()) + bytes_field(2, call)
    contract_msg = int_field(1, TRIGGER_SMART_CONTRACT) + bytes_field(2, any_msg)
    return (
        bytes_field(1, ref_block_bytes)
        + bytes_field(4, ref_block_hash)
        + int_field(8, expiration)
        + bytes_field(11, contract_msg)
        + int_field(14, timestamp)
        + int_field(18, fee_limit)
    )


def transaction(raw_data: bytes, signature: bytes, contract_ret: int) -> bytes:
    """``Transaction``: raw_data=1, signature=2, ret=5 (``Result.contractRet`` = 3)."""
    return (
        bytes_field(1, raw_data)
        + bytes_field(2, signature)
        + bytes_field(5, int_field(3, contract_ret))
    )


def merkle_root(leaves: list[bytes]) -> bytes:
    """java-tron's ``calcMerkleRoot``: pairwise sha256, an odd last node moves up; empty → zeros."""
    if not leaves:
        return bytes(32)
    level = leaves
    while len(level) > 1:
        nxt = [
            hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
