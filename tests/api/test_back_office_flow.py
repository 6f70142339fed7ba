"""The back office end to end through the API on the devnet: a real deposit funds the hot
wallet, a payout is approved by a second key, sent and confirmed; an external wallet's
payout is signed offline and posted back."""

from __future__ import annotations

import pytest
from eth_account import Account as EthAccount

from gateway.core.wallet.sender import Sender
from gateway.web.chains import drivers
from tests.api.back_office import (
    BALANCES,
    PAYOUTS,
    TRANSACTIONS,
    USDT,
    WALLETS,
    another_key,
    credit_payout_ledger_as_deposit,
    give_gas,
    hot_wallet,
    new_evm_key,
    payout_body,
    somebody,
    with_passphrase,
)


@pytest.fixture
def app_config(app_config, monkeypatch):
    """Hot wallets enabled: a passphrase in the environment."""
    return with_passphrase(app_config, monkeypatch)


def sync(shop, app, blocks: int = 0) -> None:
    """Mine, let the watcher catch up, and give the payout sender one pass (gateway watch)."""
    if blocks:
        shop.devnet.mine(blocks)
    watcher = shop.watcher()
    while not (result := watcher.step()).caught_up:
        pass
    with app.app_context():
        sender = Sender(
            "devnet",
            drivers()["devnet"],
            app.extensions["db.sessionmaker"],
            app.extensions["keyring"],
            app.config["GATEWAY"]["payouts"],
        )
    sender.run_once(result.tip)


def until(shop, app, client, merchant, payout_id: str, status: str) -> dict:
    for _ in range(20):
        sync(shop, app, blocks=1)
        payout = client.get(f"{PAYOUTS}/{payout_id}", headers=merchant.headers).json
        if payout["status"] == status:
            return payout
    raise AssertionError(f"payout stayed {payout['status']} ({payout['failure']})")


def chain_balance(shop, address: str) -> int:
    return shop.devnet.balance(shop.devnet.usdt, address)


def test_fund_pay_out_approve_and_watch_it_confirm(app, client, merchant, shop):
    wallet = hot_wallet(client, merchant)
    give_gas(shop.devnet, wallet["address"])
    shop.devnet.transfer(shop.devnet.usdt, 0, wallet["address"], 50 * USDT)
    sync(shop, app, blocks=3)
    devnet = client.get(BALANCES, headers=merchant.headers).json["data"]
    side = next(b for b in devnet if b["chain"] == "devnet")["payout"]
    assert (side["available"], side["reserved"], side["gas"]) == ("50", "0", "10")

    to = somebody()
    payout = client.post(
        PAYOUTS, json=payout_body(to=to, amount="20"), headers=merchant.headers
    ).json
    assert payout["status"] == "awaiting_approval"
    sync(shop, app, blocks=1)
    assert chain_balance(shop, to) == 0  # never sent unapproved
    approver = another_key(shop.app, merchant.id)
    approved = client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=approver.headers)
    assert approved.json["status"] == "approved"

    done = until(shop, app, client, merchant, payout["id"], "confirmed")
    assert done["tx_hash"] and int(done["fee_paid"]) > 0 and done["confirmed_at"]
    assert chain_balance(shop, to) == 20 * USDT
    assert chain_balance(shop, wallet["address"]) == 30 * USDT

    balance = next(
        b
        for b in client.get(BALANCES, headers=merchant.headers).json["data"]
        if b["chain"] == "devnet"
    )
    side = balance["payout"]
    assert (side["available"], side["reserved"]) == ("30", "0")
    assert side["fees_paid_base_units"] == done["fee_paid"]
    assert int(side["gas_base_units"]) == 10 * 10**18 - int(done["fee_paid"])
    movements = client.get(
        TRANSACTIONS, query_string={"chain": "devnet"}, headers=merchant.headers
    ).json["data"]
    assert [(m["type"], m["amount"], m["from_account"], m["to_account"]) for m in movements] == [
        ("payout_sent", "-20", "reserved", "world"),
        ("fee", "-" + side["fees_paid"], "world", "fees"),
        ("payout_reserved", "0", "payout", "reserved"),
        ("deposit", "50", "world", "payout"),
    ]
    assert {m["payout_id"] for m in movements[:3]} == {payout["id"]}
    assert movements[1]["asset"] == "native" and movements[0]["tx_hash"] == done["tx_hash"]


def test_an_external_wallet_signs_offline_and_posts_the_bytes(app, client, merchant, shop):
    key, address = new_evm_key()
    registered = client.post(
        WALLETS,
        json={"chain": "devnet", "mode": "external", "address": address},
        headers=merchant.headers,
    )
    assert registered.status_code == 201
    give_gas(shop.devnet, address)
    shop.devnet.mint(shop.devnet.usdt, address, 50 * USDT)
    credit_payout_ledger_as_deposit(app, merchant.id, 50 * USDT)
    to = somebody()
    payout = client.post(
        PAYOUTS, json=payout_body(to=to, amount="20"), headers=merchant.headers
    ).json
    signed_path = f"{PAYOUTS}/{payout['id']}/signed"

    early = client.post(signed_path, json={"raw": "0x00"}, headers=merchant.headers)
    assert (early.status_code, early.json["code"]) == (409, "not_awaiting_signature")
    approver = another_key(app, merchant.id)
    client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=approver.headers)
    sync(shop, app)  # the sender prepares the unsigned transaction
    unsigned = client.get(f"{PAYOUTS}/{payout['id']}", headers=merchant.headers).json[
        "unsigned_transaction"
    ]
    assert unsigned and unsigned["to"] == shop.devnet.usdt

    def sign(transaction: dict, with_key: bytes = key) -> str:
        raw = EthAccount.from_key(with_key).sign_transaction(transaction).raw_transaction
        return "0x" + bytes(raw).hex()

    with app.app_context():
        other_amount = (
            drivers()["devnet"]
            .build_transfer(address, to, 21 * USDT, nonce=unsigned["nonce"])
            .unsigned
        )
    for raw, field in [
        (sign(other_amount), "amount"),
        (sign(unsigned, new_evm_key()[0]), "sender"),
        (sign({**unsigned, "nonce": unsigned["nonce"] + 1}), "nonce"),
        ("0x1234", None),
        ("not hex at all", None),
        ("0x02", None),
        ("0x02" + "ff" * 40, None),
        ("0xc0", None),
        ("0x" + "c0" * 3, None),
        (sign(unsigned)[:-2], None),
    ]:
        refused = client.post(signed_path, json={"raw": raw}, headers=merchant.headers)
        assert (refused.status_code, refused.json["code"]) == (422, "signature_mismatch"), raw
        assert refused.json["errors"]["raw"]
        if field:
            assert field in refused.json["errors"]["raw"][0]
    unknown = client.post(
        signed_path, json={"raw": sign(unsigned), "colour": 1}, headers=merchant.headers
    )
    assert unknown.status_code == 422 and "colour" in unknown.json["errors"]

    good = sign(unsigned)
    accepted = client.post(signed_path, json={"raw": good}, headers=merchant.headers)
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["tx_hash"]
    again = client.post(signed_path, json={"raw": good}, headers=merchant.headers)
    assert again.status_code == 200 and again.json["tx_hash"] == accepted.json["tx_hash"]
    cheaper = sign({**unsigned, "maxPriorityFeePerGas": unsigned["maxPriorityFeePerGas"] + 1})
    other = client.post(signed_path, json={"raw": cheaper}, headers=merchant.headers)
    assert (other.status_code, other.json["code"]) == (409, "already_signed")

    done = until(shop, app, client, merchant, payout["id"], "confirmed")
    assert done["tx_hash"] == accepted.json["tx_hash"]
    assert chain_balance(shop, to) == 20 * USDT
    audit = client.get(
        "/api/v1/audit-log", query_string={"action": "payout.sign"}, headers=merchant.headers
    ).json["data"]
    assert [(e["subject"], e["details"]["tx_hash"]) for e in audit] == [
        (payout["id"], accepted.json["tx_hash"])
    ]


def test_a_hot_wallets_payouts_take_no_signature(app, client, merchant, devnet, evm_snapshot):
    wallet = hot_wallet(client, merchant)
    give_gas(devnet, wallet["address"])
    credit_payout_ledger_as_deposit(app, merchant.id, 5 * USDT)
    payout = client.post(PAYOUTS, json=payout_body(amount="1"), headers=merchant.headers).json
    response = client.post(
        f"{PAYOUTS}/{payout['id']}/signed", json={"raw": "0x00"}, headers=merchant.headers
    )
    assert (response.status_code, response.json["code"]) == (409, "not_external")
