"""The servlets a payout needs: build, broadcast, look up pending transactions and accounts.

Each follows the source named in its docstring; see wire.py for the evidence tags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import base58

from tests.tronnode import wire
from tests.tronnode.calls import PARSE_ERROR, BadRequest, Call, Response, call_data
from tests.tronnode.chain import Chain
from tests.tronnode.checks import Refused
from tests.tronnode.model import Tx
from tests.tronnode.proto import TRIGGER_TYPE_URL

VIEW_SELECTORS = {"313ce567", "70a08231"}  # decimals(), balanceOf(address)


def trigger_smart(chain: Chain, call: Call) -> Response:
    """triggersmartcontract: the unsigned TriggerSmartContract [SRC TriggerSmartContractServlet,
    Wallet.triggerContract/setTransaction; DOC §5]. TAPOS of the head, expiration head time +
    60 s; ``fee_limit`` absent is 0. A non-view call is not executed, so no energy estimate.
    """
    if call.method == "GET":
        return 200, b""  # doGet is empty [SRC]
    for key in ("owner_address", "contract_address"):
        if not call.params.get(key):
            message = f"class java.security.InvalidParameterException : {key} isn't set."
            return 200, wire.fastjson(wire.trigger_refused("OTHER_ERROR", message, call.visible))
    owner, contract = call.address("owner_address"), call.address("contract_address")
    data = call_data(call)
    if any(call.params.get(k) for k in ("call_value", "call_token_value", "token_id")):
        raise BadRequest("class java.lang.IllegalArgumentException : this stub sends no TRX/TRC-10")
    if chain.decimals_of(contract) is None:  # [SRC Wallet.triggerContract]
        message = "No contract or not a valid smart contract"
        return 200, wire.fastjson(
            wire.trigger_refused("CONTRACT_VALIDATE_ERROR", message, call.visible)
        )
    if data[:4].hex() in VIEW_SELECTORS:
        raise BadRequest("class java.lang.IllegalArgumentException : use triggerconstantcontract")
    tx = chain.build_call(owner, contract, data, call.number("fee_limit"))
    return 200, wire.fastjson(wire.unsigned_call(tx, call.visible))


def broadcast(chain: Chain, call: Call) -> Response:
    """broadcasttransaction: ``{"result":true,"txid":…}`` or ``{"code":…,"txid":…,"message":…}``
    [SRC BroadcastServlet, Wallet.broadcastTransaction §7]. The transaction is rebuilt from
    ``raw_data`` (``raw_data_hex`` is ignored), so its txID is what the JSON encodes.
    """
    if call.method == "GET":
        return 200, b""  # POST only, as triggerconstantcontract [INF]
    tx, signatures = _transaction(call)
    try:
        if len(signatures) > 1:  # a plain account's owner permission has one key [SRC]
            raise Refused(
                "SIGERROR",
                f"Validate signature error: Signature count is {len(signatures)} more than key "
                "counts of permission : 1",
            )
        chain.push(tx)
    except Refused as refused:
        return 200, wire.fastjson(
            wire.broadcast_refused(refused.code, tx.txid, refused.message, call.visible)
        )
    return 200, wire.fastjson({"result": True, "txid": tx.txid})


def tx_from_pending(chain: Chain, call: Call) -> Response:
    """gettransactionfrompending: a queued transaction or ``{}`` [SRC
    GetTransactionFromPendingServlet]. gettransactionbyid knows only transactions in blocks."""
    value = call.hex_value("value") if call.method == "POST" else call.query.get("value", "")
    tx = chain.pending(value)
    return 200, wire.fastjson(wire.transaction(tx, call.visible) if tx else {})


def account(chain: Chain, call: Call) -> Response:
    """getaccount: the Account in JsonFormat, or ``{}`` for one never created [SRC
    GetAccountServlet, Util.printAccount §8]."""
    address = call.address("address")
    wallet = chain.wallet(address)
    if wallet is None:
        return 200, b"{}\n"
    body = wire.account(address, wallet.balance, chain.created(address), call.visible)
    return 200, wire.jsonformat(body)


def _transaction(call: Call) -> tuple[Tx, list[bytes]]:
    """The transaction ``Util.packTransaction`` merges from the JSON (one TriggerSmartContract)."""
    raw = call.params.get("raw_data")
    contracts = raw.get("contract") if isinstance(raw, dict) else None
    if not isinstance(contracts, list) or len(contracts) != 1:
        raise BadRequest(f"{PARSE_ERROR}this stub takes one contract per transaction")
    contract = contracts[0]
    parameter = contract.get("parameter") or {}
    value = parameter.get("value") or {}
    if contract.get("type") != "TriggerSmartContract" or not isinstance(value, dict):
        raise BadRequest(f"{PARSE_ERROR}this stub takes TriggerSmartContract only")
    if parameter.get("type_url", TRIGGER_TYPE_URL) != TRIGGER_TYPE_URL or raw.get("data"):
        raise BadRequest(f"{PARSE_ERROR}this stub takes no memo and no other type_url")
    if any(value.get(k) for k in ("call_value", "call_token_value", "token_id")):
        raise BadRequest(f"{PARSE_ERROR}this stub sends no TRX/TRC-10")
    signatures = call.params.get("signature") or []
    if not isinstance(signatures, list):
        raise BadRequest(f"{PARSE_ERROR}signature must be a list")
    tx = Tx(
        owner=_address(value.get("owner_address"), call.visible),
        contract=_address(value.get("contract_address"), call.visible),
        data=_hex(value.get("data")),
        ref_block_bytes=_hex(raw.get("ref_block_bytes")),
        ref_block_hash=_hex(raw.get("ref_block_hash")),
        expiration=_int(raw.get("expiration")),
        timestamp=_int(raw.get("timestamp")),
        fee_limit=_int(raw.get("fee_limit")),
        signature=_hex(signatures[0]) if signatures else b"",
        contract_ret="DEFAULT",
    )
    return tx, [_hex(s) for s in signatures]


def _hex(value: Any) -> bytes:
    try:
        return bytes.fromhex(value or "")
    except (TypeError, ValueError):
        raise BadRequest(f"{PARSE_ERROR}INVALID hex String") from None


def _int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{PARSE_ERROR}Expected an integer")
    return value


def _address(value: Any, visible: bool) -> bytes:
    try:
        return base58.b58decode_check(value) if visible else bytes.fromhex(value or "")
    except (TypeError, ValueError):
        raise BadRequest(f"{PARSE_ERROR}INVALID address {value}") from None


ROUTES: dict[str, Callable[[Chain, Call], Response]] = {
    "triggersmartcontract": trigger_smart,
    "broadcasttransaction": broadcast,
    "gettransactionfrompending": tx_from_pending,
    "getaccount": account,
}
