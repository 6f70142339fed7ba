"""The local node's bytes against the reference's real samples and documented rules."""

from __future__ import annotations

import hashlib
import json

import requests
from tronpy import Tron
from tronpy.keys import PrivateKey, to_hex_address, to_raw_address
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


def test_block_ranges_over_http(tron_node: TronNode) -> None:
    """getblockbylimitnext: api.BlockList [DOC]; endNum excluded, at most 100 blocks."""
    tron_node.produce_block(3)

    def ask(start: int, end: int) -> bytes:
        body = {"startNum": start, "endNum": end}
        return requests.post(f"{tron_node.url}wallet/getblockbylimitnext", json=body).content

    blocks = json.loads(ask(1, 3))["block"]
    assert [b["block_header"]["raw_data"]["number"] for b in blocks] == [1, 2]
    assert ask(1, 3).startswith(b'{"block":[{"blockID":"')  # compact fastjson, like blocks
    single = requests.post(f"{tron_node.url}wallet/getblockbynum", json={"num": 2}).json()
    assert blocks[1] == single  # the same block objects getblockbynum prints
    assert json.loads(ask(3, 10))["block"][-1]["block_header"]["raw_data"]["number"] == 3
    for start, end in ((5, 10), (2, 2), (1, 102)):  # beyond the head, empty, over the limit
        assert ask(start, end) == b"{}\n"


# -- the send side: triggersmartcontract, broadcasttransaction, pending, accounts ------

SENDER = PrivateKey(hashlib.sha256(b"wire test sender").digest())
SENDER_ADDRESS = SENDER.public_key.to_base58check_address()
MISS_SIG = (  # [INF from SRC §7] hex of "Validate signature error: miss sig or contract"
    "56616c6964617465207369676e6174757265206572726f723a206d69737320736967206f7220636f6e7472616374"
)


def unsigned_transfer(node: TronNode, amount: int = 5, owner: str = SENDER_ADDRESS) -> dict:
    """What tronpy-style clients send to triggersmartcontract, and the transaction back."""
    body = {
        "owner_address": to_hex_address(owner),
        "contract_address": to_hex_address(node.chain.token),
        "function_selector": "transfer(address,uint256)",
        "parameter": word(to_hex_address(PAYER)[2:]).hex() + word(f"{amount:x}").hex(),
        "fee_limit": 30_000_000,
        "call_value": 0,
    }
    return post(node, "wallet/triggersmartcontract", body).json()["transaction"]


def signed(tx: dict, key: PrivateKey = SENDER) -> dict:
    return {**tx, "signature": [key.sign_msg_hash(bytes.fromhex(tx["txID"])).hex()]}


def test_trigger_smart_contract_builds_an_unsigned_call(tron_node: TronNode) -> None:
    """[SRC TriggerSmartContractServlet; DOC §5] TAPOS of the head, head time + 60 s."""
    head = tron_node.chain.block(tron_node.produce_block(2))
    reply = requests.post(
        tron_node.url + "wallet/triggersmartcontract",
        json={
            "owner_address": to_hex_address(SENDER_ADDRESS),
            "contract_address": to_hex_address(tron_node.chain.token),
            "function_selector": "transfer(address,uint256)",
            "parameter": "00" * 64,
            "fee_limit": 1_000,
        },
        timeout=5,
    ).content
    assert reply.startswith(b'{"result":{"result":true},"transaction":{"visible":false,"txID":"')
    tx = json.loads(reply)["transaction"]
    assert list(tx) == ["visible", "txID", "raw_data", "raw_data_hex"]  # no ret, no signature
    assert hashlib.sha256(bytes.fromhex(tx["raw_data_hex"])).hexdigest() == tx["txID"]
    raw = tx["raw_data"]
    assert (raw["ref_block_bytes"], raw["ref_block_hash"]) == (
        head.block_id[12:16],
        head.block_id[16:32],
    )
    assert raw["expiration"] == head.timestamp + 60_000
    assert raw["fee_limit"] == 1_000
    assert raw["contract"][0]["parameter"]["value"]["data"] == "a9059cbb" + "00" * 64
    assert requests.get(tron_node.url + "wallet/triggersmartcontract", timeout=5).content == b""


def test_trigger_smart_contract_refusals(tron_node: TronNode) -> None:
    no_owner = post(
        tron_node, "wallet/triggersmartcontract", {"contract_address": "41" + "11" * 20}
    )
    message = "class java.security.InvalidParameterException : owner_address isn't set."
    assert no_owner.content == (
        b'{"result":{"code":"OTHER_ERROR","message":"' + message.encode().hex().encode() + b'"}}\n'
    )
    no_contract = post(
        tron_node,
        "wallet/triggersmartcontract",
        {"owner_address": "41" + "00" * 20, "contract_address": "41" + "11" * 20, "data": "00"},
    )
    assert no_contract.json() == {
        "result": {
            "code": "CONTRACT_VALIDATE_ERROR",
            "message": b"No contract or not a valid smart contract".hex(),
        }
    }


def test_broadcast_answers_and_refusals(tron_node: TronNode) -> None:
    """[SRC BroadcastServlet, Wallet.broadcastTransaction §7] refusals carry no ``result``."""
    tron_node.chain.mint(SENDER_ADDRESS, 10**9)
    tron_node.produce_block()
    tx = unsigned_transfer(tron_node)
    txid = tx["txID"].encode()

    unsigned = post(tron_node, "wallet/broadcasttransaction", tx).content
    assert unsigned == (
        b'{"code":"SIGERROR","txid":"' + txid + b'","message":"' + MISS_SIG.encode() + b'"}\n'
    )
    stranger = PrivateKey(hashlib.sha256(b"stranger").digest())
    wrong = post(
        tron_node, "wallet/broadcasttransaction", {**signed(tx, stranger), "visible": False}
    )
    text = bytes.fromhex(wrong.json()["message"]).decode()
    assert text.endswith(
        f" is signed by {stranger.public_key.to_base58check_address()} but it is not contained"
        " of permission."
    )
    no_account = post(tron_node, "wallet/broadcasttransaction", signed(tx)).json()
    assert no_account["code"] == "CONTRACT_VALIDATE_ERROR"
    assert bytes.fromhex(no_account["message"]).decode() == (
        f"Contract validate error : account [{SENDER_ADDRESS}] does not exist"
    )

    tron_node.fund(SENDER_ADDRESS, 100 * 10**6)
    accepted = post(tron_node, "wallet/broadcasttransaction", signed(tx))
    assert accepted.content == b'{"result":true,"txid":"' + txid + b'"}\n'
    again = post(tron_node, "wallet/broadcasttransaction", signed(tx)).json()
    assert (again["code"], bytes.fromhex(again["message"])) == (
        "DUP_TRANSACTION_ERROR",
        b"Dup transaction.",
    )


def test_broadcast_checks_tapos_and_expiration(tron_node: TronNode) -> None:
    tron_node.fund(SENDER_ADDRESS, 100 * 10**6)
    tron_node.produce_block(2)
    orphaned = signed(unsigned_transfer(tron_node))  # refers to block 2
    tron_node.orphan(2)
    tron_node.produce_block()
    tapos = post(tron_node, "wallet/broadcasttransaction", orphaned).json()
    assert (tapos["code"], bytes.fromhex(tapos["message"])) == (
        "TAPOS_ERROR",
        b"Tapos check error.",
    )

    old = signed(unsigned_transfer(tron_node))
    tron_node.produce_block(20)  # 60 s of blocks: the expiration is no longer after the head
    expired = post(tron_node, "wallet/broadcasttransaction", old).json()
    assert (expired["code"], bytes.fromhex(expired["message"])) == (
        "TRANSACTION_EXPIRATION_ERROR",
        b"Transaction expired",
    )


def test_pending_transactions_and_accounts(tron_node: TronNode) -> None:
    """gettransactionfrompending knows the queue, gettransactionbyid only blocks [SRC §3];
    getaccount is JsonFormat, ``{}`` for an account never created [SRC §8]."""
    tron_node.chain.mint(SENDER_ADDRESS, 10**9)
    assert (
        post(tron_node, "wallet/getaccount", {"address": SENDER_ADDRESS, "visible": True}).content
        == b"{}\n"
    )
    tron_node.fund(SENDER_ADDRESS, 50 * 10**6)
    tx = signed(unsigned_transfer(tron_node))
    post(tron_node, "wallet/broadcasttransaction", tx)

    pending = post(tron_node, "wallet/gettransactionfrompending", {"value": tx["txID"]}).content
    assert pending.startswith(b'{"ret":[{}],"signature":["' + tx["signature"][0].encode())
    assert post(tron_node, "wallet/gettransactionbyid", {"value": tx["txID"]}).content == b"{}\n"
    tron_node.produce_block()
    gone = post(tron_node, "wallet/gettransactionfrompending", {"value": tx["txID"]}).content
    assert gone == b"{}\n"
    in_block = post(tron_node, "wallet/gettransactionbyid", {"value": tx["txID"]}).json()
    assert in_block["ret"] == [{"contractRet": "SUCCESS"}]

    info = post(tron_node, "wallet/gettransactioninfobyid", {"value": tx["txID"]}).json()
    # the sender paid: 345 bytes of free bandwidth, 14,650 energy (PAYER holds USDT) at 420 sun
    assert info["receipt"] == {
        "energy_fee": 14_650 * 420,
        "energy_usage_total": 14_650,
        "net_usage": 345,
        "result": "SUCCESS",
    }
    assert info["fee"] == 14_650 * 420
    account = post(tron_node, "wallet/getaccount", {"address": to_hex_address(SENDER_ADDRESS)})
    hex_address = to_hex_address(SENDER_ADDRESS).encode()
    assert account.content.startswith(
        b'{"address": "' + hex_address + b'","balance": ' + str(50 * 10**6 - info["fee"]).encode()
    )


def test_energy_the_balance_cannot_buy_runs_out(tron_node: TronNode) -> None:
    """java-tron caps energy at what the balance buys instead of refusing [SRC VMActuator]."""
    tron_node.chain.mint(SENDER_ADDRESS, 10**9)
    tron_node.fund(SENDER_ADDRESS, 1_000_000)  # 1 TRX: 2,380 energy
    tx = signed(unsigned_transfer(tron_node))
    assert post(tron_node, "wallet/broadcasttransaction", tx).json()["result"] is True
    tron_node.produce_block()
    info = post(tron_node, "wallet/gettransactioninfobyid", {"value": tx["txID"]}).json()
    assert (info["receipt"]["result"], info["result"]) == ("OUT_OF_ENERGY", "FAILED")
    assert info["fee"] == 2_380 * 420
    assert "log" not in info
    # the free bandwidth of the day is spent now, and 1 TRX - fee cannot pay 345,000 sun
    again = post(tron_node, "wallet/broadcasttransaction", signed(unsigned_transfer(tron_node, 6)))
    assert again.json()["code"] == "BANDWITH_ERROR"
