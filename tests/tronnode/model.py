"""Immutable records of the local chain: blocks, transactions, receipts and logs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from tests.tronnode import proto

# Transaction.Result.contractResult: the wire names and their enum numbers [SRC Tron.proto]
CONTRACT_RESULT = {"DEFAULT": 0, "SUCCESS": 1, "REVERT": 2, "OUT_OF_ENERGY": 10}


@dataclass(frozen=True, slots=True)
class Log:
    """One event log: ``address`` is the 20-byte contract address (no 41 prefix)."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """A ``TransactionInfo``; zero/empty fields are omitted on the wire (proto3)."""

    id: str
    block_number: int
    block_timestamp: int
    fee: int = 0
    contract_result: bytes = b""
    contract_address: bytes = b""  # 21 bytes with 41 prefix; empty for TRX transfers
    energy_usage: int = 0
    energy_fee: int = 0
    origin_energy_usage: int = 0
    energy_usage_total: int = 0
    net_usage: int = 0
    net_fee: int = 0
    result: str = "DEFAULT"  # receipt.result, a contractResult enum name
    logs: tuple[Log, ...] = ()
    failed: bool = False  # top-level "result": "FAILED"
    res_message: bytes = b""
    packing_fee: int = 0


@dataclass(frozen=True, slots=True)
class Tx:
    """A signed TriggerSmartContract transaction as stored in a block."""

    owner: bytes  # 21 bytes, 41-prefixed
    contract: bytes
    data: bytes
    ref_block_bytes: bytes
    ref_block_hash: bytes
    expiration: int
    timestamp: int
    fee_limit: int
    signature: bytes
    contract_ret: str = "SUCCESS"

    @property
    def raw_bytes(self) -> bytes:
        """Protobuf ``Transaction.raw``: what the txID hashes and ``raw_data_hex`` shows."""
        return proto.trigger_raw_data(
            owner=self.owner,
            contract=self.contract,
            data=self.data,
            ref_block_bytes=self.ref_block_bytes,
            ref_block_hash=self.ref_block_hash,
            expiration=self.expiration,
            timestamp=self.timestamp,
            fee_limit=self.fee_limit,
        )

    @property
    def txid(self) -> str:
        """sha256 of the raw data [SRC Util.printTransactionToJSON]."""
        return hashlib.sha256(self.raw_bytes).hexdigest()

    def with_result(self, contract_ret: str) -> Tx:
        """The same transaction with the execution result the block records."""
        return replace(self, contract_ret=contract_ret)


@dataclass(frozen=True, slots=True)
class Block:
    """A block header plus its transactions and their receipts (same order)."""

    number: int
    timestamp: int
    parent_hash: bytes
    witness_address: bytes
    version: int
    witness_signature: bytes = b""
    tx_trie_root: bytes = bytes(32)
    transactions: tuple[Tx, ...] = ()
    receipts: tuple[Receipt, ...] = field(default=())

    @property
    def raw_header(self) -> bytes:
        """Protobuf ``BlockHeader.raw``: what the blockID and the witness signature hash."""
        return proto.block_header_raw(
            timestamp=self.timestamp,
            tx_trie_root=self.tx_trie_root,
            parent_hash=self.parent_hash,
            number=self.number,
            witness_address=self.witness_address,
            version=self.version,
        )

    @property
    def block_id(self) -> str:
        """The blockID: number ‖ part of the header hash, so it changes with any header field."""
        return proto.block_id(self.number, self.raw_header)
