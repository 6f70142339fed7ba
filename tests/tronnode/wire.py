"""java-tron's JSON output, byte for byte where the reference documents it.

Section numbers (§) point into /work/shared/reference/tron-http-api.md; the tags say what the
shape rests on: [SRC] java-tron/tronpy source, [DOC] official docs, [REAL] a live payload,
[INF] inferred. Builders return plain dicts in the key order java-tron prints; ``fastjson`` and
``jsonformat`` turn them into the two serializers' bytes (§0).
"""

from __future__ import annotations

import json
from typing import Any

import base58

from tests.tronnode.model import Block, Receipt, Tx
from tests.tronnode.proto import TRIGGER_TYPE_URL


def fastjson(obj: Any) -> bytes:
    """Compact fastjson bytes ``{"a":1}`` plus the ``println`` newline [SRC §0]."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def jsonformat(obj: Any) -> bytes:
    """Protobuf JsonFormat bytes: ``": "`` after keys, bare ``,`` between items [SRC, REAL §2]."""
    return json.dumps(obj, separators=(",", ": "), ensure_ascii=False).encode() + b"\n"


def error(message: str) -> dict[str, str]:
    """The ``{"Error": "<class> : <msg>"}`` body of a failed call, sent with status 200 [SRC §9]."""
    return {"Error": message}


def address(raw: bytes, visible: bool) -> str:
    """A 21-byte address: 41-hex, or base58check when ``visible`` [SRC §0]."""
    return base58.b58encode_check(raw).decode() if visible else raw.hex()


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Add ``key`` unless ``value`` is a proto3 default (0, "", b"", empty list) [SRC §0]."""
    if value not in (0, "", b"", [], (), None):  # False == 0, so false booleans drop too
        out[key] = value.hex() if isinstance(value, bytes) else value


def block(blk: Block, visible: bool) -> dict[str, Any]:
    """A block [SRC Util.printBlockToJSON; REAL Nile 52872769 §1].

    ``transactions`` is present only when the block has some; ``witness_id`` and
    ``accountStateRoot`` are defaults and never printed.
    """
    raw: dict[str, Any] = {}
    _put(raw, "number", blk.number)
    raw["txTrieRoot"] = blk.tx_trie_root.hex()  # 32 zero bytes are not a proto default
    _put(
        raw, "witness_address", address(blk.witness_address, visible) if blk.witness_address else ""
    )
    _put(raw, "parentHash", blk.parent_hash)
    _put(raw, "version", blk.version)
    _put(raw, "timestamp", blk.timestamp)
    header: dict[str, Any] = {"raw_data": raw}
    _put(header, "witness_signature", blk.witness_signature)
    out: dict[str, Any] = {"blockID": blk.block_id, "block_header": header}
    if blk.transactions:
        out["transactions"] = [transaction(tx, visible) for tx in blk.transactions]
    return out


def transaction(tx: Tx, visible: bool) -> dict[str, Any]:
    """A transaction [SRC Util.printTransactionToJSON; DOC gettransactionbyid §1; REAL trigger §5].

    ``visible`` is added by printTransactionToJSON (the REAL trigger sample shows it; the DOC
    gettransactionbyid sample leaves it out). Key order is fastjson hash order: not meaningful.
    """
    value = {
        "data": tx.data.hex(),
        "owner_address": address(tx.owner, visible),
        "contract_address": address(tx.contract, visible),
    }
    raw_data: dict[str, Any] = {
        "contract": [
            {
                "parameter": {"value": value, "type_url": TRIGGER_TYPE_URL},
                "type": "TriggerSmartContract",
            }
        ],
        "ref_block_bytes": tx.ref_block_bytes.hex(),
        "ref_block_hash": tx.ref_block_hash.hex(),
        "expiration": tx.expiration,
    }
    _put(raw_data, "fee_limit", tx.fee_limit)
    raw_data["timestamp"] = tx.timestamp
    ret: dict[str, Any] = {}
    if tx.contract_ret != "DEFAULT":
        ret["contractRet"] = tx.contract_ret
    return {
        "ret": [ret],
        "signature": [tx.signature.hex()],
        "visible": visible,
        "txID": tx.txid,
        "raw_data": raw_data,
        "raw_data_hex": tx.raw_bytes.hex(),
    }


def receipt(rcpt: Receipt, visible: bool) -> dict[str, Any]:
    """A ``TransactionInfo`` in proto field order, defaults omitted [SRC Tron.proto; REAL §2].

    The same dict serves byblocknum (fastjson, compact) and byid (jsonformat); only the
    serializer differs. Log addresses are 20 bytes without 41 unless ``visible`` [SRC §2].
    """
    out: dict[str, Any] = {"id": rcpt.id}
    _put(out, "fee", rcpt.fee)
    _put(out, "blockNumber", rcpt.block_number)
    _put(out, "blockTimeStamp", rcpt.block_timestamp)
    out["contractResult"] = [rcpt.contract_result.hex()]  # always one element, "" if none
    if rcpt.contract_address:
        out["contract_address"] = address(rcpt.contract_address, visible)
    res: dict[str, Any] = {}
    for key in ("energy_usage", "energy_fee", "origin_energy_usage", "energy_usage_total"):
        _put(res, key, getattr(rcpt, key))
    _put(res, "net_usage", rcpt.net_usage)
    _put(res, "net_fee", rcpt.net_fee)
    if rcpt.result != "DEFAULT":
        res["result"] = rcpt.result
    out["receipt"] = res
    if rcpt.logs:
        out["log"] = [
            {
                "address": address(b"\x41" + lg.address, True) if visible else lg.address.hex(),
                "topics": [t.hex() for t in lg.topics],
                "data": lg.data.hex(),
            }
            for lg in rcpt.logs
        ]
    if rcpt.failed:
        out["result"] = "FAILED"
    if rcpt.res_message:
        out["resMessage"] = rcpt.res_message.decode() if visible else rcpt.res_message.hex()
    _put(out, "packingFee", rcpt.packing_fee)
    return out


def node_info(head: Block, solid: Block) -> dict[str, Any]:
    """getnodeinfo: a Java bean through fastjson, so compact with sorted keys [SRC §4].

    tronpy reads only ``block`` and ``solidityBlock``; the rest keeps the shape recognisable.
    """
    info = {
        "activeConnectCount": 0,
        "beginSyncNum": solid.number,
        "block": f"Num:{head.number},ID:{head.block_id}",
        "currentConnectCount": 0,
        "passiveConnectCount": 0,
        "solidityBlock": f"Num:{solid.number},ID:{solid.block_id}",
        "totalFlow": 0,
    }
    return dict(sorted(info.items()))


def constant_result(
    result_word: bytes, call: Tx, energy_used: int, visible: bool
) -> dict[str, Any]:
    """triggerconstantcontract success [REAL Nile balanceOf §5]; ``call`` is the unsigned call."""
    tx = transaction(call, visible)
    tx["ret"] = [{}]  # an unexecuted transaction's Result is all defaults
    del tx["signature"]
    return {
        "result": {"result": True},
        "energy_used": energy_used,
        "constant_result": [result_word.hex()],
        "transaction": tx,
    }


def contract_missing(visible: bool) -> dict[str, Any]:
    """triggerconstantcontract on an address with no contract [SRC Wallet.callConstantContract §5].

    ``result: false`` is a default and omitted; the message is hex unless ``visible`` [SRC §0].
    """
    message = "Smart contract is not exist."
    return {
        "result": {
            "code": "CONTRACT_VALIDATE_ERROR",
            "message": message if visible else message.encode().hex(),
        }
    }


def unsigned_call(tx: Tx, visible: bool) -> dict[str, Any]:
    """triggersmartcontract success: ``{"result":{"result":true},"transaction":{…}}``, the
    transaction without ``ret`` or ``signature`` (both empty, so omitted) [SRC
    Util.printTransactionExtention; DOC §5 shows ``visible, txID, raw_data, raw_data_hex``].
    """
    body = transaction(tx, visible)
    del body["ret"], body["signature"]
    return {"result": {"result": True}, "transaction": body}


def trigger_refused(code: str, message: str, visible: bool) -> dict[str, Any]:
    """triggersmartcontract failure: only ``result`` (``result:false`` omitted); the message
    is hex unless ``visible`` [SRC TriggerSmartContractServlet, §0]."""
    return {"result": {"code": code, "message": _text(message, visible)}}


def broadcast_refused(code: str, txid: str, message: str, visible: bool) -> dict[str, Any]:
    """broadcasttransaction refusal: JsonFormat of ``Return`` (no ``result``) plus ``txid``,
    compact; the message hex unless ``visible`` [SRC BroadcastServlet; REAL MJSalah/Support#70 §7].
    """
    return {"code": code, "txid": txid, "message": _text(message, visible)}


def account(address_raw: bytes, balance: int, create_time: int, visible: bool) -> dict[str, Any]:
    """getaccount: Account fields in field-number order (JsonFormat), defaults omitted [SRC
    Tron.proto Account, Util.printAccount §8]. The permissions are the defaults a plain
    account gets (owner: its key, threshold 1; one active permission) [INF: operations value
    and the default permission names from memory of AccountCapsule]; no resource fields.
    """
    key = {"address": address(address_raw, visible), "weight": 1}
    out: dict[str, Any] = {"address": address(address_raw, visible)}
    _put(out, "balance", balance)
    _put(out, "create_time", create_time)
    out["owner_permission"] = {"permission_name": "owner", "threshold": 1, "keys": [key]}
    out["active_permission"] = [
        {
            "type": "Active",
            "id": 2,
            "permission_name": "active",
            "threshold": 1,
            "operations": "7fff1fc0033e0000000000000000000000000000000000000000000000000000",
            "keys": [key],
        }
    ]
    return out


def _text(message: str, visible: bool) -> str:
    """A ``bytes`` text field: UTF-8 when ``visible``, else hex [SRC HttpSelfFormatFieldName]."""
    return message if visible else message.encode().hex()
