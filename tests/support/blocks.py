"""Small reads of a driver's chain view that tests share."""

from __future__ import annotations

from plugins.base import ChainDriver


def block_hash(driver: ChainDriver, number: int) -> str | None:
    """The driver's hash of block ``number``, or None when the node has no such block."""
    block = driver.block(number)
    return None if block is None else block.hash
