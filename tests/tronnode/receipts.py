"""The receipts (TransactionInfo) of executed transfers, as java-tron records them [§2]."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.tronnode.fees import Charge
from tests.tronnode.model import Log, Receipt

if TYPE_CHECKING:
    from tests.tronnode.chain import _Sent

TRANSFER_TOPIC = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
REVERT_TEXT = b"REVERT opcode executed"  # VM message for a revert [REAL/INF §2]
# [SRC Program.spendEnergy] wording; the operation and numbers are this stub's [INF]
OUT_OF_ENERGY_TEXT = (
    "Not enough energy for 'SSTORE' operation executing: curInvokeEnergyLimit[{limit}],"
    " curOpEnergy[20000], usedEnergy[{used}]"
)


def word(value: int | bytes) -> bytes:
    """A 32-byte ABI word: an int, or an address's 20 bytes left-padded."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return value[-20:].rjust(32, b"\0")


def error_string(text: str) -> bytes:
    """ABI ``Error(string)`` return data, what a Solidity ``require`` revert leaves."""
    data = text.encode()
    padded = data.ljust((len(data) + 31) // 32 * 32, b"\0")
    return bytes.fromhex("08c379a0") + word(32) + word(len(data)) + padded


def success(
    sent: _Sent, number: int, timestamp: int, fresh_holder: bool, charge: Charge | None
) -> Receipt:
    """A successful transfer's receipt, modelled on the REAL Nile USDT one (§2).

    Without a ``charge`` (a test's own transfer) the contract's deployer pays the energy, as
    in the Nile sample; a broadcast one is paid by its sender, as in the REAL mainnet sample
    (``energy_fee``, ``net_fee``, ``fee``, no ``origin_energy_usage``).
    """
    log = Log(sent.token[1:], (TRANSFER_TOPIC, word(sent.frm), word(sent.to)), word(sent.amount))
    if charge is None:
        energy = 29_650 if fresh_holder else 14_650  # a new holder's storage slot costs more
        return Receipt(
            id=sent.tx.txid,
            block_number=number,
            block_timestamp=timestamp,
            contract_result=word(1),
            contract_address=sent.token,
            origin_energy_usage=energy,
            energy_usage_total=energy,
            net_usage=345,
            result="SUCCESS",
            logs=(log,),
        )
    return _paid(sent, number, timestamp, charge, word(1), logs=(log,))


def failure(sent: _Sent, number: int, timestamp: int, charge: Charge | None) -> Receipt:
    """A reverted (or out-of-energy) transfer: fees burnt, no logs, FAILED [INF shape of §2]."""
    reverted = error_string("ERC20: transfer amount exceeds balance")
    if charge is None:
        return Receipt(
            id=sent.tx.txid,
            fee=1_234_140,
            block_number=number,
            block_timestamp=timestamp,
            contract_result=reverted,
            contract_address=sent.token,
            energy_fee=889_140,
            energy_usage_total=2_117,
            net_fee=345_000,
            result="REVERT",
            failed=True,
            res_message=REVERT_TEXT,
        )
    if charge.result == "OUT_OF_ENERGY":
        total = charge.energy_usage_total
        message = OUT_OF_ENERGY_TEXT.format(limit=total, used=max(total - 1, 0)).encode()
        return _paid(sent, number, timestamp, charge, b"", failed=True, res_message=message)
    return _paid(sent, number, timestamp, charge, reverted, failed=True, res_message=REVERT_TEXT)


def _paid(
    sent: _Sent, number: int, timestamp: int, charge: Charge, result: bytes, **extra: object
) -> Receipt:
    return Receipt(
        id=sent.tx.txid,
        fee=charge.fee,
        block_number=number,
        block_timestamp=timestamp,
        contract_result=result,
        contract_address=sent.token,
        energy_usage=charge.energy_usage,
        energy_fee=charge.energy_fee,
        energy_usage_total=charge.energy_usage_total,
        net_usage=charge.net_usage,
        net_fee=charge.net_fee,
        result=charge.result,
        **extra,  # type: ignore[arg-type]
    )
