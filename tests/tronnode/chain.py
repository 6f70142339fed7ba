"""The local chain's state: a TRC-20 ledger, a transaction queue, blocks, solidification, forks.

Thread-safe: the HTTP server reads from its handler threads while a test writes.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace

import base58
from tronpy.keys import PrivateKey, to_raw_address

from tests.tronnode import checks, fees, proto
from tests.tronnode import receipts as receipts_of
from tests.tronnode.checks import Refused
from tests.tronnode.fees import Wallet
from tests.tronnode.model import CONTRACT_RESULT, Block, Tx
from tests.tronnode.receipts import TRANSFER_TOPIC as TRANSFER_TOPIC  # re-exported
from tests.tronnode.receipts import word as _word

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # mainnet USDT contract [§11]
OTHER_TOKEN = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"  # Nile USDT: any second TRC-20 will do
TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
GENESIS_TIMESTAMP = 1_700_000_000_000
BLOCK_INTERVAL_MS = 3_000  # TRON's slot length
BLOCK_VERSION = 34  # the version the DOC block of §1 carries
FEE_LIMIT = 30_000_000
WITNESS_KEY = PrivateKey(hashlib.sha256(b"tronnode witness").digest())
WITNESS_ADDRESS = to_raw_address(WITNESS_KEY.public_key.to_base58check_address())
EXPIRATION_MS = 60_000  # head block time + 60 s [SRC Wallet.setTransaction, Constant]
MAXIMUM_TIME_UNTIL_EXPIRATION = 86_400_000  # one day [SRC Constant]


@dataclass(frozen=True, slots=True)
class _Sent:
    """A transfer a test asked for or a client broadcast, kept so an orphaned block's
    transactions can be requeued."""

    tx: Tx
    token: bytes
    frm: bytes
    to: bytes
    amount: int
    fail: bool
    #: Broadcast by a client: its sender pays bandwidth and energy in TRX (fees.py).
    paid: bool = False


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
        self._funds: dict[bytes, int] = {}  # TRX (sun) given by tests, by account
        self._created: dict[bytes, int] = {}  # create_time of each account
        self._staked: dict[bytes, int] = {}  # energy from staking, by account
        self._ticks = 0  # the node's clock between blocks (distinct build timestamps)

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

    def fund(self, holder: str, sun: int) -> None:
        """Give ``holder`` TRX, creating its account as a TRX transfer would (no block)."""
        address = to_raw_address(holder)
        with self._lock:
            self._created.setdefault(address, self._blocks[-1].timestamp)
            self._funds[address] = self._funds.get(address, 0) + sun

    def stake_energy(self, holder: str, energy: int) -> None:
        """Let ``holder`` use ``energy`` from staking before it burns TRX (never regained)."""
        with self._lock:
            address = to_raw_address(holder)
            self._staked[address] = self._staked.get(address, 0) + energy

    def build_call(self, owner: bytes, contract: bytes, data: bytes, fee_limit: int) -> Tx:
        """An unsigned TriggerSmartContract as triggersmartcontract builds it: TAPOS of the
        head, expiration head time + 60 s, timestamp the node's clock [SRC Wallet.setTransaction].
        """
        with self._lock:
            head = self._blocks[-1]
            self._ticks += 1  # the wall clock of a real node: later than the head, distinct
            return Tx(
                owner=owner,
                contract=contract,
                data=data,
                ref_block_bytes=bytes.fromhex(head.block_id[12:16]),
                ref_block_hash=bytes.fromhex(head.block_id[16:32]),
                expiration=head.timestamp + EXPIRATION_MS,
                timestamp=head.timestamp + self._ticks,
                fee_limit=fee_limit,
                signature=b"",
                contract_ret="DEFAULT",
            )

    def push(self, tx: Tx) -> None:
        """Accept a signed transaction into the queue, or raise Refused as java-tron would.

        The checks run in Wallet.broadcastTransaction's order: next-slot expiration, the
        signature, TAPOS, expiration against the head, duplicates, the sender's bandwidth,
        then the VM's own validation [SRC Wallet, Manager.pushTransaction/processTransaction].
        """
        with self._lock:
            head = self._blocks[-1]
            if tx.expiration < head.timestamp + BLOCK_INTERVAL_MS:
                raise Refused("TRANSACTION_EXPIRATION_ERROR", "Transaction expired")
            checks.check_signature(tx)
            if not checks.tapos_ok(self._blocks, tx):
                raise Refused("TAPOS_ERROR", "Tapos check error.")
            if not head.timestamp < tx.expiration <= head.timestamp + MAXIMUM_TIME_UNTIL_EXPIRATION:
                raise Refused("TRANSACTION_EXPIRATION_ERROR", "Transaction expired")
            if self.find_tx(tx.txid) or self.pending(tx.txid):
                raise Refused("DUP_TRANSACTION_ERROR", "Dup transaction.")
            wallet = self.wallet(tx.owner)
            if wallet is None:  # [SRC BandwidthProcessor.consume]
                raise Refused(
                    "CONTRACT_VALIDATE_ERROR",
                    f"Contract validate error : account [{base58_of(tx.owner)}] does not exist",
                )
            if fees.bandwidth(tx, wallet) is None:
                raise Refused("BANDWITH_ERROR", "Account resource insufficient error.")
            if not 0 <= tx.fee_limit <= fees.MAX_FEE_LIMIT:  # [SRC VMActuator.call]
                raise Refused(
                    "CONTRACT_VALIDATE_ERROR",
                    f"Contract validate error : feeLimit must be >= 0 and <= {fees.MAX_FEE_LIMIT}",
                )
            if self.decimals_of(tx.contract) is None:
                raise Refused(
                    "CONTRACT_VALIDATE_ERROR",
                    "Contract validate error : No contract or not a smart contract",
                )
            data = tx.data
            transfer = data[:4] == TRANSFER_SELECTOR and len(data) == 68
            sent = _Sent(
                tx,
                tx.contract,
                tx.owner,
                b"\x41" + data[16:36] if transfer else b"",
                int.from_bytes(data[36:68], "big") if transfer else 0,
                fail=not transfer,  # this stub's contracts know only transfer
                paid=True,
            )
            self._sent[tx.txid] = sent
            self._pending.append(sent)

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

    def pending(self, txid: str) -> Tx | None:
        """A queued transaction not yet in a block (gettransactionfrompending)."""
        with self._lock:
            return next((s.tx for s in self._pending if s.tx.txid == txid), None)

    def wallet(self, address: bytes) -> Wallet | None:
        """The TRX side of an account at the head; None when the account does not exist."""
        with self._lock:
            if address not in self._created:
                return None
            return self._wallets(self._blocks, self._blocks[-1].timestamp)[address]

    def created(self, address: bytes) -> int:
        """When the account was created (ms)."""
        return self._created[address]

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
        self._ticks = 0
        number, ledger = parent.number + 1, self._ledger()
        wallets = self._wallets(self._blocks, self._clock)
        txs, receipts, packed = [], [], set()
        for sent in queue:
            tx = sent.tx
            net = None
            if sent.paid:
                # what java-tron re-checks when it packs its pending queue; failures are dropped
                wallet = wallets.get(sent.frm)
                net = fees.bandwidth(tx, wallet) if wallet else None
                if net is None or not self._packable(tx, parent, packed):
                    continue
            ok = not sent.fail and ledger.get((sent.token, sent.frm), 0) >= sent.amount
            fresh = (sent.token, sent.to) not in ledger
            charge = None
            if sent.paid:
                needed = fees.NEW_HOLDER_ENERGY if fresh else fees.TRANSFER_ENERGY
                result = "SUCCESS" if ok else "REVERT"
                charge = fees.execute(tx, wallet, net, needed if ok else fees.REVERT_ENERGY, result)
                ok = charge.result == "SUCCESS"
                wallets[sent.frm] = Wallet(
                    wallet.balance - charge.fee,
                    wallet.free_net_used + charge.net_usage,
                    wallet.staked_energy - charge.energy_usage,
                )
            if ok:
                # a zero-value transfer from a holder the token never saw is valid too
                ledger[sent.token, sent.frm] = ledger.get((sent.token, sent.frm), 0) - sent.amount
                ledger[sent.token, sent.to] = ledger.get((sent.token, sent.to), 0) + sent.amount
                receipts.append(receipts_of.success(sent, number, self._clock, fresh, charge))
            else:
                receipts.append(receipts_of.failure(sent, number, self._clock, charge))
            packed.add(tx.txid)
            txs.append(tx.with_result(charge.result if charge else "SUCCESS" if ok else "REVERT"))
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

    def _packable(self, tx: Tx, parent: Block, packed: set[str]) -> bool:
        """Whether a queued transaction may still go into the block after ``parent``."""
        return (
            tx.expiration > parent.timestamp
            and checks.tapos_ok(self._blocks, tx)
            and tx.txid not in packed
            and self.find_tx(tx.txid) is None
        )

    def _wallets(self, blocks: list[Block], now: int) -> dict[bytes, Wallet]:
        """Every account's TRX side after ``blocks``: funding less the fees its transactions
        burnt; free bandwidth counts today's use only (java-tron recovers it over a day) [INF]."""
        burnt: dict[bytes, int] = {}
        net: dict[bytes, int] = {}
        staked = dict(self._staked)
        for blk in blocks:
            same_day = blk.timestamp // fees.DAY_MS == now // fees.DAY_MS
            for tx, rcpt in zip(blk.transactions, blk.receipts, strict=True):
                burnt[tx.owner] = burnt.get(tx.owner, 0) + rcpt.fee
                if same_day:
                    net[tx.owner] = net.get(tx.owner, 0) + rcpt.net_usage
                staked[tx.owner] = staked.get(tx.owner, 0) - rcpt.energy_usage
        return {
            a: Wallet(self._funds.get(a, 0) - burnt.get(a, 0), net.get(a, 0), staked.get(a, 0))
            for a in self._created
        }

    @staticmethod
    def _seal(blk: Block) -> Block:
        """Sign the header as the witness does: ECDSA over sha256(raw header)."""
        digest = hashlib.sha256(blk.raw_header).digest()
        return replace(blk, witness_signature=WITNESS_KEY.sign_msg_hash(digest).to_bytes())


def base58_of(raw: bytes) -> str:
    """A 21-byte address in base58check."""
    return base58.b58encode_check(raw).decode()
