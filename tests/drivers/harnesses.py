"""One DriverHarness per chain driver: how the conformance suite drives that driver's chain.

A harness knows how to build its driver against a local node and how to make things happen
on that node (payments, blocks, reorgs, provider rate limits). The suite in
``test_conformance.py`` only talks to harnesses, so every driver passes the same checks.
"""

from __future__ import annotations

from tests.drivers.evm_harness import EvmHarness
from tests.drivers.harness import DriverHarness
from tests.drivers.tron_harness import TronHarness

__all__ = ["HARNESSES", "DriverHarness", "EvmHarness", "TronHarness"]

#: The harnesses the suite runs, by entry-point name. Add yours here.
HARNESSES: dict[str, type[DriverHarness]] = {"evm": EvmHarness, "tron": TronHarness}
