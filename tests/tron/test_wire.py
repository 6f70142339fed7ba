"""The local node's bytes against the reference's real samples and documented rules."""

from __future__ import annotations

import hashlib
import json

import requests
from tronpy import Tron
from tronpy.keys import to_raw_address
from tronpy.providers import HTTPProvider

from tests.fixtures.tron import PAYER
from tests.tronnode import TronNode, wire
from tests.tronnode.chain import TRANSFER_TOPIC
from tests.tronnode.model import Block, Log, Receipt, Tx

# [REAL] Nile block 52872769, empty (reference §1), re-compacted there.
NILE_EMPTY_BLOCK = (
    b'{"blockID":"000000000326c641ee5f2819cdaccd67a616195ea214a4c352a4bfa47d61e1c8",'
    b'"block_header":{"raw_data":{"number":52872769,"txTrieRoot":'
    b'"0000000000000000000000000000000000000000000000000000000000000000","witness_address":'
    b'"4150d3765e4e670727ebac9d5b598f74b75a3d54a7","parentHash":'
    b'"000000000326c640639ec37b4f981df3dd768e926305bd0ddb2b91e759fa2fda","version":30,'
    b'"timestamp":1734518928000},"witness_signature":"1d2d3256479d3c813282e0f92d6b37e50ef9e3382a'
    b"82d992e50d09cda059b2623a49b5134ba40fc976ee60b63bae8bd940dadff04c132094e7bc12c7e543dc1701"
    b'"}}\n'
)
# [REAL] Nile USDT transfer receipt, gettransactioninfobyid, visible=false (reference §2).
NILE_USDT_RECEIPT = (
    b'{"id": "d6161e2819feaa74ee44113ccb525f79cc2d9fa1f290554804988d1223d2e3b6","blockNumber": '
    b'52953811,"blockTimeStamp": 1734772239000,"contractResult": ["000000000000000000000000000000'
    b'0000000000000000000000000000000000"],"contract_address": "41eca9bc828a3005b9a3b909f2cc5c2a54'
    b'794de05f","receipt": {"origin_energy_usage": 29650,"energy_usage_total": 29650,"net_usage": '
    b'345,"result": "SUCCESS"},"log": [{"address": "eca9bc828a3005b9a3b909f2cc5c2a54794de05f","t'
    b'opics": ["ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef","0000000000000000'
    b'000000003cb540bbfa4f7143f2b8c3e185aebac6a5af9c3e","000000000000000000000000e33944686502898789'
    b'd865324356a0b33ce7b028"],"data": "00000000000000000000000000000000000000000000000000000000000'
    b'f4240"}]}\n'
)
# [REAL] Nile balanceOf through triggerconstantcontract, visible=true (reference §5);
# the reference elided raw_data_hex as "...".
NILE_BALANCE_OF = (
    b'{"result":{"result":true},"energy_used":935,"constant_result":["000000000000000000000000000'
    b'000000000000000000000000000000df28e80"],"transaction":{"ret":[{}],"visible":true,"txID":"1373'
    b'91bad5d906e3a4e94a6b8de5e31d208797b969faea55620789743dbed167","raw_data":{"contract":[{"param'
    b'eter":{"value":{"data":"70a082310000000000000000000000003cb540bbfa4f7143f2b8c3e185aebac6a5af9c'
    b'3e","owner_address":"TFWCgEouJUC1bHLMfjdzLQdXPeiCE1byfw","contract_address":"TXYZopYRdj2D9XRt'
    b'bG411XZZ3kM5VkAeBf"},"type_url":"type.googleapis.com/protocol.TriggerSmartContract"},"type":"'
    b'TriggerSmartContract"}],"ref_block_bytes":"3e3c","ref_block_hash":"d8673c35aba05b35","expirat'
    b'ion":1734615045000,"timestamp":1734614985851},"raw_data_hex":"..."}}\n'
)


def word(hex_tail: str) -> bytes:
    return bytes.fromhex(hex_tail.rjust(64, "0"))


def test_empty_nile_block_rebuilt_byte_for_byte() -> None:
    # The blockID is computed (number ‖ sha256 of the protobuf header), not copied.
    blk = Block(
        number=52872769,
        timestamp=1734518928000,
        parent_hash=bytes.fromhex(
            "000000000326c640639ec37b4f981df3dd768e926305bd0ddb2b91e759fa2fda"
        ),
        witness_address=bytes.fromhex("4150d3765e4e670727ebac9d5b598f74b75a3d54a7"),
        version=30,
        witness_signature=bytes.fromhex(
            "1d2d3256479d3c813282e0f92d6b37e50ef9e3382a82d992e50d09cda059b2623a49b5134ba40fc976e"
            "e60b63bae8bd940dadff04c132094e7bc12c7e543dc1701"
        ),
    )
    assert wire.fastjson(wire.block(blk, visible=False)) == NILE_EMPTY_BLOCK


def test_nile_usdt_receipt_rebuilt_byte_for_byte() -> None:
    nile_usdt = bytes.fromhex("eca9bc828a3005b9a3b909f2cc5c2a54794de05f")
    rcpt = Receipt(
        id="d6161e2819feaa74ee44113ccb525f79cc2d9fa1f290554804988d1223d2e3b6",
        block_number=52953811,
        block_timestamp=1734772239000,
        contract_result=bytes(32),
        contract_address=b"\x41" + nile_usdt,
        origin_energy_usage=29650,
        energy_usage_total=29650,
        net_usage=345,
        result="SUCCESS",
        logs=(
            Log(
                nile_usdt,
                (
                    TRANSFER_TOPIC,
                    word("3cb540bbfa4f7143f2b8c3e185aebac6a5af9c3e"),
                    word("e33944686502898789d865324356a0b33ce7b028"),
                ),
                word("0f4240"),
            ),
        ),
    )
    assert wire.jsonformat(wire.receipt(rcpt, visible=False)) == NILE_USDT_RECEIPT
    # byblocknum prints the same fields compactly (fastjson) [§2]
    compact = wire.fastjson([wire.receipt(rcpt, visible=False)])
    assert (
        compact
        == b"[" + json.dumps(json.loads(NILE_USDT_RECEIPT), separators=(",", ":")).encode() + b"]\n"
    )


def test_nile_balance_of_rebuilt_byte_for_byte() -> None:
    call = Tx(
        owner=to_raw_address("TFWCgEouJUC1bHLMfjdzLQdXPeiCE1byfw"),
        contract=to_raw_address("TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"),
        data=bytes.fromhex("70a08231") + word("3cb540bbfa4f7143f2b8c3e185aebac6a5af9c3e"),
        ref_block_bytes=bytes.fromhex("3e3c"),
        ref_block_hash=bytes.fromhex("d8673c35aba05b35"),
        expiration=1734615045000,
        timestamp=1734614985851,
        fee_limit=0,
        signature=b"",
        contract_ret="DEFAULT",
    )
    body = wire.constant_result(word("df28e80"), call, 935, visible=True)
    assert (
        hashlib.sha256(bytes.fromhex(body["transaction"]["raw_data_hex"])).hexdigest()
        == (body["transaction"]["txID"])
    )
    body["transaction"]["raw_data_hex"] = "..."  # elided in the reference
    assert wire.fastjson(body) == NILE_BALANCE_OF  # so txID = sha256(our protobuf) matches too


def post(node: TronNode, path: str, body: object = None) -> requests.Response:
    return requests.post(node.url + path, json=body if body is not None else {}, timeout=5)


def test_not_found_rules_and_framing(tron_node: TronNode) -> None:
    tron_node.produce_block()
    above = post(tron_node, "wallet/getblockbynum", {"num": 99})
    assert (above.status_code, above.content) == (200, b"{}\n")
    assert above.headers["Content-Type"] == "application/json; charset=utf-8"
    assert post(tron_node, "wallet/gettransactioninfobyblocknum", {"num": 99}).content == b"[]\n"
    assert post(tron_node, "wallet/gettransactioninfobyblocknum", {"num": 1}).content == b"[]\n"
    assert post(tron_node, "wallet/gettransactioninfobyblocknum", {"num": 0}).content == b"{}\n"
    assert post(tron_node, "wallet/gettransactioninfobyid", {"value": "00" * 32}).content == b"{}\n"
    assert post(tron_node, "wallet/getblockbyid", {"value": "00" * 32}).content == b"{}\n"
    empty = post(tron_node, "wallet/getblockbynum", {"num": 1}).json()
    assert "transactions" not in empty
    assert empty["block_header"]["raw_data"]["txTrieRoot"] == "0" * 64
    assert empty["blockID"][:16] == "0000000000000001"
    bad = post(tron_node, "wallet/getblockbynum", {"num": "x"})
    assert bad.status_code == 200 and "JsonFormat$ParseException" in bad.json()["Error"]
    get = requests.get(tron_node.url + "wallet/getblockbynum?num=abc", timeout=5)
    assert get.json() == {
        "Error": 'class java.lang.NumberFormatException : For input string: "abc"'
    }


def test_visible_and_body_ignoring_servlets(tron_node: TronNode) -> None:
    tron_node.produce_block()
    visible = post(tron_node, "wallet/getblockbynum", {"num": 1, "visible": True}).json()
    assert visible["block_header"]["raw_data"]["witness_address"].startswith("T")
    # getnowblock never reads the body: tronpy's {"visible": true} still gets hex [§0]
    now = post(tron_node, "wallet/getnowblock", {"visible": True}).json()
    assert now["block_header"]["raw_data"]["witness_address"].startswith("41")
    query = requests.post(tron_node.url + "wallet/getnowblock?visible=true", timeout=5).json()
    assert query["block_header"]["raw_data"]["witness_address"].startswith("T")


def test_receipts_and_transactions_over_http(tron_node: TronNode) -> None:
    ok = tron_node.transfer(PAYER, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 1_000_000)
    failed = tron_node.transfer(PAYER, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 1, fail=True)
    tron_node.produce_block()
    by_id = post(tron_node, "wallet/gettransactioninfobyid", {"value": ok}).content
    assert by_id.startswith(b'{"id": "' + ok.encode() + b'","blockNumber": 1,')
    receipts = post(tron_node, "wallet/gettransactioninfobyblocknum", {"num": 1})
    assert receipts.content.startswith(b'[{"id":"' + ok.encode() + b'","blockNumber":1,')
    bad = receipts.json()[1]
    assert list(bad) == [
        "id", "fee", "blockNumber", "blockTimeStamp", "contractResult", "contract_address",
        "receipt", "result", "resMessage",
    ]  # fmt: skip
    assert (bad["id"], bad["receipt"]["result"], bad["result"]) == (failed, "REVERT", "FAILED")
    assert bytes.fromhex(bad["resMessage"]) == b"REVERT opcode executed"
    block = post(tron_node, "wallet/getblockbynum", {"num": 1}).json()
    for tx in block["transactions"]:
        assert hashlib.sha256(bytes.fromhex(tx["raw_data_hex"])).hexdigest() == tx["txID"]
    assert [tx["ret"] for tx in block["transactions"]] == [
        [{"contractRet": "SUCCESS"}],
        [{"contractRet": "REVERT"}],
    ]


def test_solidity_prefix_and_orphans(tron_node: TronNode) -> None:
    tron_node.produce_block(5)  # solid trails by 3
    assert (
        post(tron_node, "walletsolidity/getnowblock").json()["block_header"]["raw_data"]["number"]
        == 2
    )
    assert post(tron_node, "walletsolidity/getblockbynum", {"num": 4}).content == b"{}\n"
    old_id = tron_node.chain.block(4).block_id
    tron_node.orphan(4)
    tron_node.produce_block()
    assert post(tron_node, "wallet/getblockbyid", {"value": old_id}).content == b"{}\n"
    assert post(tron_node, "wallet/getblockbynum", {"num": 4}).json()["blockID"] != old_id


def test_tronpy_reads_the_node(tron_node: TronNode) -> None:
    tron_node.produce_block(4)
    client = Tron(HTTPProvider(tron_node.url))
    assert client.get_latest_block_number() == 4
    assert client.get_latest_solid_block_number() == 1
    assert client.get_latest_block_id() == tron_node.chain.block(4).block_id
    assert client.get_block(2)["blockID"] == tron_node.chain.block(2).block_id
    token = tron_node.chain.token
    balance = client.trigger_const_smart_contract_function(
        "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb",
        token,
        "balanceOf(address)",
        word(to_raw_address(PAYER)[1:].hex()).hex(),
    )
    assert int(balance, 16) == tron_node.chain.balance_of(
        to_raw_address(token), to_raw_address(PAYER)
    )


def test_trigger_errors(tron_node: TronNode) -> None:
    assert requests.get(tron_node.url + "wallet/triggerconstantcontract", timeout=5).content == b""
    missing_owner = post(
        tron_node, "wallet/triggerconstantcontract", {"contract_address": "41" + "00" * 20}
    )
    assert missing_owner.json()["result"]["code"] == "OTHER_ERROR"
    no_contract = post(
        tron_node,
        "wallet/triggerconstantcontract",
        {
            "owner_address": "41" + "00" * 20,
            "contract_address": "41" + "11" * 20,
            "function_selector": "decimals()",
        },
    ).content
    assert no_contract == (
        b'{"result":{"code":"CONTRACT_VALIDATE_ERROR","message":"'
        + b"Smart contract is not exist.".hex().encode()
        + b'"}}\n'
    )
