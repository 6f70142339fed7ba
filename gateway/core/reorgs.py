"""Reorg detection: the hashes of recently scanned blocks, and the walk back to a fork.

After every step the watcher keeps the hash of the last block it scanned. When that
hash is no longer the node's, the chain was reorganised somewhere above the newest kept
block that still is: everything above it is scanned again. The hashes are kept down to
twice the confirmation depth below the head; a reorg reaching deeper is not guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.models import ScannedBlock
from plugins.base import Block, DriverError, Tip


class ReorgTooDeep(Exception):
    """No kept block hash is canonical any more: the chain must not be scanned on."""

    def __init__(self, chain: str, depth: int):
        super().__init__(
            f"{chain}: a reorg replaced at least the {depth} newest scanned blocks, deeper"
            " than the kept hashes reach; the watcher stops this chain. Check the node, then"
            f" run `gateway rescan {chain} --from <block>`"
        )
        self.chain, self.depth = chain, depth


def kept(session: Session, chain: str) -> list[tuple[int, str]]:
    """(number, hash) of the kept scanned blocks, newest first."""
    rows = session.execute(
        sa.select(ScannedBlock.number, ScannedBlock.hash)
        .where(ScannedBlock.chain == chain)
        .order_by(ScannedBlock.number.desc())
    )
    return [(number, hash_) for number, hash_ in rows]


def fork_point(
    chain: str, kept: list[tuple[int, str]], canonical: Callable[[int], str | None]
) -> int | None:
    """The newest kept block that is still canonical when the newest is not, else None.

    ``canonical(number)`` gives the node's hash of a block. A node without the block (a
    lagging backend, or a shorter fork that will grow past us) proves nothing: it raises
    DriverError and the step is tried again later.
    """
    for position, (number, hash_) in enumerate(kept):
        current = canonical(number)
        if current is None:
            raise DriverError(f"block {number} is not available on the node (it lags behind us)")
        if current == hash_:
            return None if position == 0 else number
    if not kept:
        return None
    raise ReorgTooDeep(chain, kept[0][0] - kept[-1][0] + 1)


def newest(session: Session, chain: str) -> int | None:
    """Number of the newest kept block, or None when none is kept."""
    return session.scalar(
        sa.select(sa.func.max(ScannedBlock.number)).where(ScannedBlock.chain == chain)
    )


def remember(session: Session, chain: str, block: Block) -> None:
    """Keep the hash of the newest scanned block."""
    session.merge(
        ScannedBlock(chain=chain, number=block.number, hash=block.hash, timestamp=block.timestamp)
    )


def forget_above(session: Session, chain: str, number: int) -> None:
    """Drop the hashes of blocks above ``number``: a reorg replaced them."""
    session.execute(
        sa.delete(ScannedBlock).where(ScannedBlock.chain == chain, ScannedBlock.number > number)
    )


def prune(session: Session, chain: str, tip: Tip) -> None:
    """Drop hashes deeper than twice the confirmation depth, keeping one anchor below it."""
    depth = max(1, tip.number - tip.confirmed + 1)
    floor = tip.confirmed - depth
    anchor = session.scalar(
        sa.select(sa.func.max(ScannedBlock.number)).where(
            ScannedBlock.chain == chain, ScannedBlock.number <= floor
        )
    )
    if anchor is not None:
        session.execute(
            sa.delete(ScannedBlock).where(ScannedBlock.chain == chain, ScannedBlock.number < anchor)
        )


def chain_time(session: Session, chain: str) -> int | None:
    """Unix time of the newest scanned block: what the scan has seen of the chain's clock."""
    return session.scalar(
        sa.select(ScannedBlock.timestamp)
        .where(ScannedBlock.chain == chain)
        .order_by(ScannedBlock.number.desc())
        .limit(1)
    )
