"""The local chain's state: a TRC-20 ledger, a transaction queue, blocks, solidification, forks.

Thread-safe: the HTTP server reads from its handler threads while a test writes.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace

import base58
from tronpy.keys import PrivateKey, to_raw_address

from tests.tronnode import proto
from tests.tronnode.model import CONTRACT_RESULT, Block, Log, Receipt, Tx

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # mainnet USDT contract [§11]
OTHER_TOKEN = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"  # Nile USDT: any second TRC-20 will do
TRANSFER_TOPIC = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
GENESIS_TIMESTAMP = 1_700_000_000_000
BLOCK_INTERVAL_MS = 3_000  # TRON's slot length
BLOCK_VERSION = 34  # the version the DOC block of §1 carries
FEE_LIMIT = 30_000_000
WITNESS_KEY = PrivateKey(hashlib.sha256(b"tronnode witness").digest())
WITNESS_ADDRESS = to_raw_address(WITNESS_KEY.public_key.to_base58check_address())
REVERT_TEXT = b"REVERT opcode executed"  # VM message for a revert [REAL/INF §2]


def _word(value: int | bytes) -> bytes:
    """A 32-byte ABI word: an int, or an address's 20 bytes left-padded."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value[-20:].rjust(32, b"\0")


def _error_string(text: str) -> bytes:
    """ABI ``Error(string)`` return data, what a Solidity ``require`` revert leaves."""
    data = text.encode()
    padded = data.ljust((len(data) + 31) // 32 * 32, b"\0")
    return bytes.fromhex("08c379a0") + _word(32) + _word(len(data)) + padded


@dataclass(frozen=True, slots=True)
class _Sent:
    """A transfer a test asked for, kept so an orphaned block's transactions can be requeued."""

    tx: Tx
    token: bytes
    frm: bytes
    to: bytes
    amount: int
    fail: bool


class Chain:
    """A single-witness TRON chain with TRC-20 token contracts and no other state."""

    def __init__(
        self,
        *,
        solid_lag: int = 18,
        token: str = USDT,
        token_decimals: int = 6,
        other_token: str = OTHER_TOKEN,
        other_decimals: int = 18,
    ) -> None:
        self._lock = threading.RLock()
        self.token = token
        self.other_token = other_token
        self._decimals = {to_raw_address(token): token_decimals}
        if other_token:
            self._decimals[to_raw_address(other_token)] = other_decimals
        self._allocations: dict[tuple[bytes, bytes], int] = {}
        self._sent: dict[str, _Sent] = {}
        self._pending: list[_Sent] = []
        self._clock = GENESIS_TIMESTAMP
        self._blocks = [self._seal(Block(0, GENESIS_TIMESTAMP, bytes(32), WITNESS_ADDRESS, 0))]
        self.solid_lag = solid_lag
        self._solid = 0

    # ---- writes (tests) ----

    def mint(self, holder: str, amount: int, token: str | None = None) -> None:
        """Give ``holder`` a starting balance, as if allocated at genesis (no event)."""
        key = (to_raw_address(token or self.token), to_raw_address(holder))
        with self._lock:
            self._allocations[key] = self._allocations.get(key, 0) + amount

    def transfer(
        self, frm: str, to: str, amount: int, *, token: str | None = None, fail: bool = False
    ) -> str:
        """Queue ``transfer(to, amount)`` on a token contract; returns the txID.

        The transaction reverts when packed if ``fail`` is set or ``frm`` lacks the balance.
        """
        contract = to_raw_address(token or self.token)
        owner, recipient = to_raw_address(frm), to_raw_address(to)
        with self._lock:
            ref = self._blocks[-1].block_id
            # distinct timestamps keep identical transfers distinct transactions
            timestamp = self._clock + 1 + len(self._pending)
            unsigned = Tx(
                owner=owner,
                contract=contract,
                data=TRANSFER_SELECTOR + _word(recipient) + _word(amount),
                ref_block_bytes=bytes.fromhex(ref[12:16]),  # tronpy's TAPOS slices [§1]
                ref_block_hash=bytes.fromhex(ref[16:32]),
                expiration=timestamp + 60_000,
                timestamp=timestamp,
                fee_limit=FEE_LIMIT,
                signature=b"",
            )
            # nothing here checks signatures: 65 stable bytes stand in for the owner's [INF]
            tx = replace(unsigned, signature=hashlib.sha512(unsigned.raw_bytes).digest() + b"\x01")
            sent = _Sent(tx, contract, owner, recipient, amount, fail)
            self._sent[tx.txid] = sent
            self._pending.append(sent)
            return tx.txid

    def produce_block(self, count: int = 1) -> Block:
        """Pack the queue into the next block (then ``count - 1`` empty ones); returns the last."""
        with self._lock:
            for _ in range(count):
                self._blocks.append(self._pack(self._pending))
                self._pending = []
                self._solid = max(self._solid, self._blocks[-1].number - self.solid_lag)
            return self._blocks[-1]

    def set_solid_lag(self, lag: int) -> None:
        """Let solidification trail the head by ``lag`` blocks from now on (never moves back)."""
        with self._lock:
            self.solid_lag = lag
            self._solid = max(self._solid, self._blocks[-1].number - lag)

    def orphan(self, number: int, *, requeue: bool = False) -> list[str]:
        """Drop blocks ``number..head`` (none may be solid); returns the dropped blockIDs.

        Blocks produced afterwards take the heights again with later timestamps, hence new
        blockIDs. ``requeue`` puts the dropped transactions back in front of the queue.
        """
        with self._lock:
            if not self._solid < number <= self._blocks[-1].number:
                raise ValueError(f"can orphan only {self._solid + 1}..{self._blocks[-1].number}")
            dropped = self._blocks[number:]
            del self._blocks[number:]
            if requeue:
                again = [self._sent[tx.txid] for b in dropped for tx in b.transactions]
                self._pending = again + self._pending
            return [b.block_id for b in dropped]

    # ---- reads (the server) ----

    def head(self, solid: bool = False) -> Block:
        """The newest block, or the newest solidified one."""
        with self._lock:
            return self._blocks[self._solid] if solid else self._blocks[-1]

    @property
    def solid_number(self) -> int:
        """Number of the newest solidified block."""
        return self._solid

    def block(self, number: int, solid: bool = False) -> Block | None:
        """The canonical block ``number``; None above the head (or the solid head)."""
        with self._lock:
            top = self._solid if solid else len(self._blocks) - 1
            return self._blocks[number] if 0 <= number <= top else None

    def block_by_id(self, block_id: str, solid: bool = False) -> Block | None:
        """The canonical block with this blockID; orphaned blocks are gone."""
        number = int(block_id[:16], 16)  # the blockID starts with the number [§1]
        found = self.block(number, solid) if number < 2**62 else None
        return found if found and found.block_id == block_id else None

    def find_tx(self, txid: str, solid: bool = False) -> tuple[Block, int] | None:
        """The block holding transaction ``txid`` and its position there."""
        with self._lock:
            top = self._solid if solid else len(self._blocks) - 1
            for blk in self._blocks[1 : top + 1]:
                for i, tx in enumerate(blk.transactions):
                    if tx.txid == txid:
                        return blk, i
            return None

    def decimals_of(self, contract: bytes) -> int | None:
        """Decimals of a token contract; None when no contract lives there."""
        return self._decimals.get(contract)

    def balance_of(self, contract: bytes, holder: bytes) -> int:
        """A token balance at the head."""
        with self._lock:
            return self._ledger().get((contract, holder), 0)

    # ---- internals ----

    def _ledger(self) -> dict[tuple[bytes, bytes], int]:
        """Balances at the head: allocations plus every Transfer log so far."""
        ledger = dict(self._allocations)
        for blk in self._blocks:
            for rcpt in blk.receipts:
                for log in rcpt.logs:
                    token, amount = b"\x41" + log.address, int.from_bytes(log.data, "big")
                    frm, to = b"\x41" + log.topics[1][12:], b"\x41" + log.topics[2][12:]
                    ledger[token, frm] = ledger.get((token, frm), 0) - amount
                    ledger[token, to] = ledger.get((token, to), 0) + amount
        return ledger

    def _pack(self, queue: list[_Sent]) -> Block:
        parent = self._blocks[-1]
        self._clock += BLOCK_INTERVAL_MS
        number, ledger = parent.number + 1, self._ledger()
        txs, receipts = [], []
        for sent in queue:
            ok = not sent.fail and ledger.get((sent.token, sent.frm), 0) >= sent.amount
            if ok:
                fresh = (sent.token, sent.to) not in ledger
                ledger[sent.token, sent.frm] -= sent.amount
                ledger[sent.token, sent.to] = ledger.get((sent.token, sent.to), 0) + sent.amount
                receipts.append(self._success(sent, number, fresh))
            else:
                receipts.append(self._revert(sent, number))
            txs.append(sent.tx.with_result("SUCCESS" if ok else "REVERT"))
        leaves = [
            hashlib.sha256(
                proto.transaction(tx.raw_bytes, tx.signature, CONTRACT_RESULT[tx.contract_ret])
            ).digest()
            for tx in txs
        ]
        blk = Block(
            number=number,
            timestamp=self._clock,
            parent_hash=bytes.fromhex(parent.block_id),
            witness_address=WITNESS_ADDRESS,
            version=BLOCK_VERSION,
            tx_trie_root=proto.merkle_root(leaves),
            transactions=tuple(txs),
            receipts=tuple(receipts),
        )
        return self._seal(blk)

    @staticmethod
    def _seal(blk: Block) -> Block:
        """Sign the header as the witness does: ECDSA over sha256(raw header)."""
        digest = hashlib.sha256(blk.raw_header).digest()
        return replace(blk, witness_signature=WITNESS_KEY.sign_msg_hash(digest).to_bytes())

    def _success(self, sent: _Sent, number: int, fresh_holder: bool) -> Receipt:
        """A successful transfer's receipt, modelled on the REAL Nile USDT one (§2)."""
        energy = 29_650 if fresh_holder else 14_650  # a new holder's storage slot costs more
        return Receipt(
            id=sent.tx.txid,
            block_number=number,
            block_timestamp=self._clock,
            contract_result=_word(1),
            contract_address=sent.token,
            origin_energy_usage=energy,
            energy_usage_total=energy,
            net_usage=345,
            result="SUCCESS",
            logs=(
                Log(
                    sent.token[1:],
                    (TRANSFER_TOPIC, _word(sent.frm), _word(sent.to)),
                    _word(sent.amount),
                ),
            ),
        )

    def _revert(self, sent: _Sent, number: int) -> Receipt:
        """A reverted transfer: fees burnt, no logs, FAILED [INF shape of §2]."""
        return Receipt(
            id=sent.tx.txid,
            fee=1_234_140,
            block_number=number,
            block_timestamp=self._clock,
            contract_result=_error_string("ERC20: transfer amount exceeds balance"),
            contract_address=sent.token,
            energy_fee=889_140,
            energy_usage_total=2_117,
            net_fee=345_000,
            result="REVERT",
            failed=True,
            res_message=REVERT_TEXT,
        )


def base58_of(raw: bytes) -> str:
    """A 21-byte address in base58check."""
    return base58.b58encode_check(raw).decode()
