"""What a broadcast transaction costs its sender: bandwidth, energy, and the TRX that pays them.

java-tron's rules, reduced to what a TRC-20 ``transfer`` from a plain account needs [SRC
BandwidthProcessor.consume, VMActuator.getAccountEnergyLimitWithFixRatio]:

- Bandwidth: the transaction's bytes without ``ret``, plus 64 for the result it will carry.
  The account's free daily bandwidth pays first; else TRX at the bandwidth price; else the
  node refuses it (BANDWITH_ERROR). An account that does not exist (never received TRX)
  cannot send at all.
- Energy: the call may use ``min(staked energy left + TRX / price, fee_limit / price)``
  energy. Staked energy is used first, the rest burns TRX. A call that needs more runs
  out of energy: it fails (OUT_OF_ENERGY) and burns its whole allowance. java-tron does not
  refuse a transaction whose balance cannot cover ``fee_limit`` at broadcast: the limit just
  shrinks to what the balance can buy.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.tronnode import proto
from tests.tronnode.model import Tx

# 5,452,020 sun for 12,981 energy in the REAL mainnet receipt of reference §2: 420 sun each
ENERGY_PRICE = 420
# net_fee 345,000 for a 345-byte TRC-20 transfer [REAL §2]: 1,000 sun a byte
BANDWIDTH_PRICE = 1_000
FREE_NET_LIMIT = 600  # free bandwidth a day per account: mainnet's getFreeNetLimit [INF]
MAX_FEE_LIMIT = 15_000_000_000  # mainnet's getMaxFeeLimit, 15,000 TRX [INF]
MAX_RESULT_SIZE_IN_TX = 64  # [SRC Constant]
DAY_MS = 86_400_000

# Energy a TRC-20 transfer uses [REAL §2 Nile receipt: 29,650 when the recipient is new]
TRANSFER_ENERGY = 14_650
NEW_HOLDER_ENERGY = 29_650
REVERT_ENERGY = 2_117  # a transfer reverted for want of tokens [INF]


def bandwidth_of(tx: Tx) -> int:
    """Bytes a transaction is billed for: serialized without ``ret``, plus 64 [SRC]."""
    return len(proto.transaction(tx.raw_bytes, tx.signature, 0)) + MAX_RESULT_SIZE_IN_TX


@dataclass(frozen=True, slots=True)
class Wallet:
    """The TRX side of one account at some point in the chain."""

    balance: int  # sun
    free_net_used: int  # free bandwidth used today
    staked_energy: int  # energy left from staking


@dataclass(frozen=True, slots=True)
class Charge:
    """What one executed transaction cost and how it ended."""

    net_usage: int = 0  # free bandwidth used
    net_fee: int = 0
    energy_usage: int = 0  # staked energy used
    energy_fee: int = 0
    energy_usage_total: int = 0
    result: str = "SUCCESS"  # or REVERT, OUT_OF_ENERGY

    @property
    def fee(self) -> int:
        """Total sun burnt."""
        return self.net_fee + self.energy_fee


def bandwidth(tx: Tx, wallet: Wallet) -> Charge | None:
    """The bandwidth part of the charge; None when the account cannot pay it."""
    size = bandwidth_of(tx)
    if wallet.free_net_used + size <= FREE_NET_LIMIT:
        return Charge(net_usage=size)
    if wallet.balance >= size * BANDWIDTH_PRICE:
        return Charge(net_fee=size * BANDWIDTH_PRICE)
    return None


def execute(tx: Tx, wallet: Wallet, net: Charge, needed: int, result: str) -> Charge:
    """The full charge once bandwidth is paid: ``needed`` energy, ending as ``result``."""
    left = wallet.balance - net.net_fee
    limit = min(wallet.staked_energy + max(left, 0) // ENERGY_PRICE, tx.fee_limit // ENERGY_PRICE)
    if needed > limit:
        needed, result = limit, "OUT_OF_ENERGY"
    from_stake = min(wallet.staked_energy, needed)
    return Charge(
        net_usage=net.net_usage,
        net_fee=net.net_fee,
        energy_usage=from_stake,
        energy_fee=(needed - from_stake) * ENERGY_PRICE,
        energy_usage_total=needed,
        result=result,
    )
