"""What broadcasttransaction checks of a transaction itself before it queues it [SRC §7]."""

from __future__ import annotations

from tronpy.exceptions import BadSignature
from tronpy.keys import Signature, to_raw_address

from tests.tronnode.model import Block, Tx


class Refused(Exception):
    """broadcasttransaction's refusal: a ``Return`` code and its message [SRC §7]."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def tapos_ok(blocks: list[Block], tx: Tx) -> bool:
    """The recent-block store keeps, per low two bytes of a number, the newest canonical
    block's id bytes 8..16; the reference must match it [SRC Manager.validateTapos]."""
    key = int.from_bytes(tx.ref_block_bytes, "big")
    for blk in reversed(blocks):
        if blk.number & 0xFFFF == key and len(tx.ref_block_bytes) == 2:
            return bytes.fromhex(blk.block_id)[8:16] == tx.ref_block_hash
    return False


def check_signature(tx: Tx) -> None:
    """The owner permission of a plain account is its own key, weight 1 of threshold 1
    [SRC TransactionCapsule.validatePubSignature/checkWeight]."""
    prefix = "Validate signature error: "
    if not tx.signature:
        raise Refused("SIGERROR", prefix + "miss sig or contract")
    if len(tx.signature) < 65:
        raise Refused("SIGERROR", f"{prefix}Signature size is {len(tx.signature)}")
    try:
        key = Signature(tx.signature[:65]).recover_public_key_from_msg_hash(bytes.fromhex(tx.txid))
    except (BadSignature, ValueError):
        # java's SignatureException texts vary with the fault [INF]
        raise Refused("SIGERROR", prefix + "Header byte out of range") from None
    signer = key.to_base58check_address()
    if to_raw_address(signer) != tx.owner:
        raise Refused(
            "SIGERROR",
            f"{prefix}{tx.signature.hex()} is signed by {signer} "
            "but it is not contained of permission.",
        )
