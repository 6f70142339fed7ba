"""A local TRON full-node HTTP API speaking java-tron's wire format, for tests.

See /work/shared/reference/tron-http-api.md for the evidence each response follows.
"""

from tests.tronnode.chain import Chain
from tests.tronnode.server import TronNode

__all__ = ["Chain", "TronNode"]
