"""The servlets: one function per path, from request parameters to (status, body bytes).

Each follows the reference section named in its docstring; see wire.py for the tags.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.tronnode import sending, wire
from tests.tronnode.calls import BadRequest, Call, Response, call_data
from tests.tronnode.chain import Chain
from tests.tronnode.model import Tx

DECIMALS = "313ce567"
BALANCE_OF = "70a08231"
ZERO_OWNER = bytes.fromhex("41" + "00" * 20)


def now_block(chain: Chain, call: Call) -> Response:
    """getnowblock: body ignored, ``visible`` only from the query [SRC GetNowBlockServlet §0/§1]."""
    visible = call.query.get("visible", "").lower() == "true"
    return 200, wire.fastjson(wire.block(chain.head(call.solid), visible))


def block_by_num(chain: Chain, call: Call) -> Response:
    """getblockbynum: the block or ``{}`` (also above the head) [SRC, DOC §1]."""
    blk = chain.block(call.number("num"), call.solid)
    return 200, wire.fastjson(wire.block(blk, call.visible) if blk else {})


BLOCK_LIMIT = 100  # java-tron's BLOCK_LIMIT_NUM for range queries


def blocks_by_limit_next(chain: Chain, call: Call) -> Response:
    """getblockbylimitnext: blocks ``startNum`` .. ``endNum - 1`` as ``{"block": [...]}``.

    [DOC tronprotocol documentation getblockbylimitnext: api.BlockList, endNum excluded,
    endNum - startNum <= 100] A range outside those rules, or with no block yet, prints the
    empty BlockList as ``{}`` (§0 default omission). The list stops at the node's head [INF].
    """
    start, end = call.number("startNum"), call.number("endNum")
    blocks = []
    if 0 < end - start <= BLOCK_LIMIT and start >= 0:
        for number in range(start, end):
            blk = chain.block(number, call.solid)
            if blk is None:
                break
            blocks.append(wire.block(blk, call.visible))
    return 200, wire.fastjson({"block": blocks} if blocks else {})


def block_by_id(chain: Chain, call: Call) -> Response:
    """getblockbyid: the block or ``{}`` [SRC §1]."""
    value = call.hex_value("value")
    blk = chain.block_by_id(value, call.solid) if len(value) == 64 else None
    return 200, wire.fastjson(wire.block(blk, call.visible) if blk else {})


def info_by_block_num(chain: Chain, call: Call) -> Response:
    """gettransactioninfobyblocknum: ``{}`` for num <= 0, else always an array [SRC §2]."""
    num = call.number("num")
    if num <= 0:
        return 200, wire.fastjson({})
    blk = chain.block(num, call.solid)
    receipts = blk.receipts if blk else ()
    return 200, wire.fastjson([wire.receipt(r, call.visible) for r in receipts])


def info_by_id(chain: Chain, call: Call) -> Response:
    """gettransactioninfobyid: JsonFormat bytes (``": "``), ``{}`` when unknown [SRC, REAL §2]."""
    found = chain.find_tx(call.hex_value("value"), call.solid)
    if not found:
        return 200, wire.jsonformat({})
    blk, index = found
    return 200, wire.jsonformat(wire.receipt(blk.receipts[index], call.visible))


def tx_by_id(chain: Chain, call: Call) -> Response:
    """gettransactionbyid: the transaction object of §1 or ``{}`` [SRC §3]."""
    found = chain.find_tx(call.hex_value("value"), call.solid)
    if not found:
        return 200, wire.fastjson({})
    blk, index = found
    return 200, wire.fastjson(wire.transaction(blk.transactions[index], call.visible))


def node_info(chain: Chain, call: Call) -> Response:
    """getnodeinfo: no parameters, body ignored [SRC NodeInfoService §4]."""
    return 200, wire.fastjson(wire.node_info(chain.head(), chain.head(solid=True)))


def trigger_constant(chain: Chain, call: Call) -> Response:
    """triggerconstantcontract: decimals() and balanceOf(address) of the token contracts [§5]."""
    if call.method == "GET":
        return 200, b""  # the servlet implements POST only; Jetty's default GET writes nothing
    if not call.params.get("owner_address"):
        message = "owner_address isn't set."
        result = {
            "code": "OTHER_ERROR",
            "message": message if call.visible else message.encode().hex(),
        }
        return 200, wire.fastjson({"result": result})
    owner, contract = call.address("owner_address"), call.address("contract_address")
    data = call_data(call)
    decimals = chain.decimals_of(contract)
    if decimals is None:
        return 200, wire.fastjson(wire.contract_missing(call.visible))
    if data[:4].hex() == DECIMALS:
        word, energy = decimals.to_bytes(32, "big"), 222
    elif data[:4].hex() == BALANCE_OF and len(data) == 36:
        word, energy = chain.balance_of(contract, b"\x41" + data[16:36]).to_bytes(32, "big"), 935
    else:
        raise BadRequest(
            "class java.lang.IllegalArgumentException : this stub knows only decimals/balanceOf"
        )
    head = chain.head().block_id
    tx = Tx(
        owner=owner or ZERO_OWNER,
        contract=contract,
        data=data,
        ref_block_bytes=bytes.fromhex(head[12:16]),
        ref_block_hash=bytes.fromhex(head[16:32]),
        expiration=chain.head().timestamp + 60_000,
        timestamp=chain.head().timestamp,
        fee_limit=0,
        signature=b"",
        contract_ret="DEFAULT",
    )
    return 200, wire.fastjson(wire.constant_result(word, tx, energy, call.visible))


ROUTES: dict[str, Callable[[Chain, Call], Response]] = {
    "getnowblock": now_block,
    "getblockbynum": block_by_num,
    "getblockbyid": block_by_id,
    "getblockbylimitnext": blocks_by_limit_next,
    "gettransactioninfobyblocknum": info_by_block_num,
    "gettransactioninfobyid": info_by_id,
    "gettransactionbyid": tx_by_id,
    "getnodeinfo": node_info,
    "triggerconstantcontract": trigger_constant,
    **sending.ROUTES,
}


def dispatch(chain: Chain, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
    """Route ``[/<base>]/wallet/<name>`` and ``.../walletsolidity/<name>`` to a servlet.

    A base path is allowed as behind a reverse proxy, so drivers with one can be tested too.
    """
    prefix, _, name = "/".join(path.strip("/").split("/")[-2:]).partition("/")
    servlet = ROUTES.get(name) if prefix in ("wallet", "walletsolidity") else None
    if servlet is None:
        return 404, b"Not Found\n"
    try:
        params = dict(query) if method == "GET" else (json.loads(body) if body.strip() else {})
        if not isinstance(params, dict):
            raise BadRequest("class com.alibaba.fastjson.JSONException : not a JSON object")
        return servlet(chain, Call(method, params, query, prefix == "walletsolidity"))
    except json.JSONDecodeError as exc:
        return 200, wire.fastjson(wire.error(f"class com.alibaba.fastjson.JSONException : {exc}"))
    except BadRequest as exc:
        return 200, wire.fastjson(wire.error(str(exc)))
