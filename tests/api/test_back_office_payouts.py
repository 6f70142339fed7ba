"""Payouts through the API on the devnet: creation, refusals, approval by a second key,
cancellation, the audit log, refunds, the address book and the policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from bip_utils import Bip44Coins

from gateway.core.audit import AuditEntry
from gateway.core.models import Event, IdempotencyKey, utcnow
from gateway.core.wallet.models import Account, LedgerEntry, Payout
from gateway.web import db
from gateway.web.chains import drivers
from plugins.hd import child_address
from tests.api.back_office import (
    ADDRESS_BOOK,
    AUDIT,
    PAYOUTS,
    POLICY,
    USDT,
    another_key,
    count,
    credit_payout_ledger_as_deposit,
    funded_wallet,
    give_gas,
    hot_wallet,
    key_id,
    payout_balance,
    payout_body,
    somebody,
    stored_payout,
    with_passphrase,
)
from tests.fixtures.tron import PAYER
from tests.support.keys import MERCHANT_EVM_XPUB

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def app_config(app_config, monkeypatch):
    """Hot wallets enabled: a passphrase in the environment."""
    return with_passphrase(app_config, monkeypatch)


@pytest.fixture
def wallet(app, client, merchant, devnet, evm_snapshot):
    """The merchant's hot devnet payout wallet: 100 USDT available, gas on chain."""
    return funded_wallet(app, client, merchant, devnet, 100 * USDT)


@pytest.fixture
def approver(app, merchant):
    """A second key of the merchant that may approve payouts."""
    return another_key(app, merchant.id)


def create(client, merchant, **fields):
    return client.post(PAYOUTS, json=payout_body(**fields), headers=merchant.headers)


def test_a_payout_is_created_reserved_and_approved_by_another_key(
    app, client, merchant, wallet, approver
):
    to = somebody()
    response = client.post(
        PAYOUTS,
        json=payout_body(to=to.lower(), amount="12.5"),
        headers={**merchant.headers, "Idempotency-Key": "payout-1"},
    )
    assert response.status_code == 201, response.json
    payout = response.json
    assert payout["id"].startswith("po_")
    assert (payout["status"], payout["to"], payout["amount"]) == ("awaiting_approval", to, "12.5")
    assert payout["amount_base_units"] == "12500000"
    assert payout["wallet_id"] == wallet["id"]
    assert int(payout["fee_estimate"]) > 0
    assert payout_balance(app, merchant.id, Account.PAYOUT) == 87_500_000
    assert payout_balance(app, merchant.id, Account.RESERVED) == 12_500_000

    replay = client.post(
        PAYOUTS,
        json=payout_body(to=to.lower(), amount="12.5"),
        headers={**merchant.headers, "Idempotency-Key": "payout-1"},
    )
    assert replay.status_code == 201 and replay.data == response.data
    assert count(app, Payout) == 1

    own = client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=merchant.headers)
    assert (own.status_code, own.json["code"]) == (403, "same_credential")
    approved = client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=approver.headers)
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert approved.json["approved_by"] == approver.id
    twice = client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=approver.headers)
    assert (twice.status_code, twice.json["code"]) == (409, "invalid_state")
    got = client.get(f"{PAYOUTS}/{payout['id']}", headers=merchant.headers).json
    assert got["status"] == "approved"
    with app.app_context():
        types = db.session().scalars(sa.select(Event.type).order_by(Event.seq)).all()
    assert types == ["payout.created", "payout.approved"]


def test_an_expired_idempotency_key_is_a_new_payout(app, client, merchant, wallet):
    body = payout_body(amount="1")
    headers = {**merchant.headers, "Idempotency-Key": "payout-day-1"}
    first = client.post(PAYOUTS, json=body, headers=headers)
    assert first.status_code == 201
    with app.app_context(), db.transaction() as session:
        session.execute(sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    second = client.post(PAYOUTS, json=body, headers=headers)
    assert second.status_code == 201, second.json
    assert second.json["id"] != first.json["id"]
    replay = client.post(PAYOUTS, json=body, headers=headers)
    assert replay.data == second.data
    assert count(app, Payout) == 2


def test_the_approve_scope_is_never_implied(app, client, merchant, wallet, make_merchant):
    payout = create(client, merchant).json
    writer = another_key(app, merchant.id, "payouts:write")
    refused = client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=writer.headers)
    assert (refused.status_code, refused.json["code"]) == (403, "insufficient_scope")
    reader = another_key(app, merchant.id, "payouts:read")
    assert client.get(PAYOUTS, headers=reader.headers).status_code == 200
    assert client.post(PAYOUTS, json=payout_body(), headers=reader.headers).status_code == 403


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ("not-an-address", "invalid_address"),
        ("0x12345", "invalid_address"),
        (PAYER, "invalid_address"),  # a TRON address on an EVM chain
        (ZERO, "invalid_address"),
        ("token", "invalid_address"),  # the token contract: tokens would be lost
        ("wallet", "invalid_destination"),  # the payout wallet itself
    ],
)
def test_bad_destinations_are_422_and_write_nothing(
    app, client, merchant, wallet, devnet, to, code
):
    to = {"token": devnet.usdt, "wallet": wallet["address"]}.get(to, to)
    response = create(client, merchant, to=to)
    assert response.status_code == 422, response.json
    assert response.json["code"] == code
    assert "to" in response.json["errors"]
    assert count(app, Payout) == 0
    assert payout_balance(app, merchant.id, Account.RESERVED) == 0


def test_a_tron_address_on_tron_is_fine_and_an_evm_one_is_not(app, client, merchant, wallet):
    # no TRON payout wallet: a valid TRON destination gets as far as that
    response = create(client, merchant, chain="tron", to=PAYER)
    assert (response.status_code, response.json["code"]) == (409, "no_payout_wallet")
    response = create(client, merchant, chain="tron", to=wallet["address"])
    assert (response.status_code, response.json["code"]) == (422, "invalid_address")


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "greater than zero"),
        ("0.000000", "greater than zero"),
        ("-1", "decimal string"),
        ("1.0000001", "more than 6 decimal places"),
        ("1e3", "decimal string"),
        (12, "Not a valid string"),
        (None, "Field may not be null"),
    ],
)
def test_bad_amounts_are_422(app, client, merchant, wallet, amount, reason):
    response = create(client, merchant, amount=amount)
    assert response.status_code == 422
    assert reason in " ".join(response.json["errors"]["amount"])
    assert count(app, Payout) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"colour": "red"},
        {"status": "approved"},
        {"created_by": "key_somebody_else"},
        {"fee_estimate": "0"},
        {"reference": ""},
        {"reference": None},
        {"chain": "dogecoin"},
    ],
)
def test_unknown_or_bad_fields_are_refused(app, client, merchant, wallet, fields):
    response = create(client, merchant, **fields)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == set(fields)
    assert count(app, Payout) == 0


def test_more_than_available_is_insufficient_funds(app, client, merchant, wallet):
    assert create(client, merchant, amount="60").status_code == 201
    response = create(client, merchant, amount="40.000001")
    assert response.status_code == 422
    assert response.json["code"] == "insufficient_funds"
    assert response.json["errors"]["amount"] == [response.json["message"].split(": ", 1)[1]]
    assert "40" in response.json["message"]
    assert create(client, merchant, amount="40").status_code == 201
    huge = create(client, merchant, amount="9" * 90)  # past any token's uint256
    assert (huge.status_code, huge.json["code"]) == (422, "insufficient_funds")
    assert payout_balance(app, merchant.id, Account.PAYOUT) == 0
    assert payout_balance(app, merchant.id, Account.RESERVED) == 100 * USDT


def test_without_a_wallet_it_is_409_and_without_gas_422(
    app, client, merchant, devnet, evm_snapshot
):
    response = create(client, merchant)
    assert (response.status_code, response.json["code"]) == (409, "no_payout_wallet")
    wallet = hot_wallet(client, merchant)
    credit_payout_ledger_as_deposit(app, merchant.id, 100 * USDT)
    response = create(client, merchant)
    assert (response.status_code, response.json["code"]) == (422, "insufficient_gas")
    give_gas(devnet, wallet["address"])
    assert create(client, merchant).status_code == 201


def test_the_daily_limit_counts_the_days_payouts(app, client, merchant, wallet):
    policy = {
        "approval_threshold": "50",
        "daily_limit": "25",
        "allowlist_only": False,
        "allowlist_cooldown_minutes": 0,
    }
    assert client.put(POLICY, json=policy, headers=merchant.headers).status_code == 200
    first = create(client, merchant, amount="20")
    assert first.status_code == 201
    assert first.json["status"] == "approved"  # under the approval threshold
    over = create(client, merchant, amount="5.000001")
    assert (over.status_code, over.json["code"]) == (422, "daily_limit_exceeded")
    assert "amount" in over.json["errors"]
    # a cancelled payout no longer counts
    client.post(f"{PAYOUTS}/{first.json['id']}/cancel", headers=merchant.headers)
    assert create(client, merchant, amount="25").status_code == 201


def test_cancel_gives_the_reserve_back_and_a_cancelled_payout_cannot_be_approved(
    app, client, merchant, wallet, approver
):
    payout = create(client, merchant, amount="30").json
    cancelled = client.post(f"{PAYOUTS}/{payout['id']}/cancel", headers=merchant.headers)
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled" and cancelled.json["cancelled_at"]
    assert payout_balance(app, merchant.id, Account.PAYOUT) == 100 * USDT
    assert payout_balance(app, merchant.id, Account.RESERVED) == 0
    again = client.post(f"{PAYOUTS}/{payout['id']}/cancel", headers=merchant.headers)
    assert again.status_code == 200  # cancelling twice is a no-op
    assert payout_balance(app, merchant.id, Account.PAYOUT) == 100 * USDT
    approve = client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=approver.headers)
    assert (approve.status_code, approve.json["code"]) == (409, "payout_cancelled")


def test_cancel_after_broadcast_is_refused(app, client, merchant, devnet, wallet, approver):
    # the wallet really holds the tokens: the sender signs and broadcasts on the devnet
    devnet.mint(devnet.usdt, wallet["address"], 100 * USDT)
    payout = create(client, merchant, amount="10").json
    client.post(f"{PAYOUTS}/{payout['id']}/approve", headers=approver.headers)
    run_sender(app)
    sent = client.get(f"{PAYOUTS}/{payout['id']}", headers=merchant.headers).json
    assert sent["status"] == "broadcast", sent
    assert sent["tx_hash"]
    refused = client.post(f"{PAYOUTS}/{payout['id']}/cancel", headers=merchant.headers)
    assert (refused.status_code, refused.json["code"]) == (409, "not_cancellable")
    assert payout_balance(app, merchant.id, Account.RESERVED) == 10 * USDT


def run_sender(app, chain: str = "devnet") -> None:
    """One pass of the chain's payout sender, as `gateway watch` runs it."""
    from gateway.core.wallet.sender import Sender

    with app.app_context():
        driver = drivers()[chain]
        settings = app.config["GATEWAY"]
        sender = Sender(
            chain,
            driver,
            app.extensions["db.sessionmaker"],
            app.extensions["keyring"],
            settings["payouts"],
        )
        sender.run_once(driver.tip())


def test_the_audit_log_shows_create_approve_cancel_with_key_and_ip(
    app, client, merchant, wallet, approver
):
    creator = key_id(app, merchant.headers)
    first = create(client, merchant, amount="1").json
    second = create(client, merchant, amount="2").json
    client.post(f"{PAYOUTS}/{first['id']}/approve", headers=approver.headers)
    client.post(
        f"{PAYOUTS}/{second['id']}/cancel",
        headers=merchant.headers,
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    log = client.get(AUDIT, headers=merchant.headers).json["data"]
    assert log[-1]["action"] == "payout_wallet.create"
    assert [(e["action"], e["subject"], e["actor"], e["ip"]) for e in log[:4]] == [
        ("payout.cancel", second["id"], creator, "10.1.2.3"),
        ("payout.approve", first["id"], approver.id, "127.0.0.1"),
        ("payout.create", second["id"], creator, "127.0.0.1"),
        ("payout.create", first["id"], creator, "127.0.0.1"),
    ]
    assert log[3]["details"]["amount"] == "1000000"
    # filters: action, actor, time; paging
    only = client.get(f"{AUDIT}?action=payout.create", headers=merchant.headers).json["data"]
    assert [e["subject"] for e in only] == [second["id"], first["id"]]
    by = client.get(f"{AUDIT}?actor={approver.id}", headers=merchant.headers).json["data"]
    assert [e["action"] for e in by] == ["payout.approve"]
    paged = client.get(f"{AUDIT}?limit=2", headers=merchant.headers).json
    assert paged["has_more"] and len(paged["data"]) == 2
    rest = client.get(
        f"{AUDIT}?limit=100&starting_after={paged['data'][-1]['id']}", headers=merchant.headers
    ).json
    assert [e["id"] for e in paged["data"] + rest["data"]] == [e["id"] for e in log]
    newest, oldest = log[0]["created_at"], log[-1]["created_at"]
    since = client.get(AUDIT, query_string={"created_gte": newest}, headers=merchant.headers)
    assert log[0]["id"] in [e["id"] for e in since.json["data"]]
    before = client.get(AUDIT, query_string={"created_lt": oldest}, headers=merchant.headers)
    assert before.json["data"] == []
    bad = client.get(f"{AUDIT}?colour=red", headers=merchant.headers)
    assert bad.status_code == 422
    # audit:read only; write scopes do not imply it
    reader = another_key(app, merchant.id, "payouts:write,wallets:write")
    assert client.get(AUDIT, headers=reader.headers).status_code == 403


def test_lists_filter_and_another_merchants_payouts_are_404_everywhere(
    app, client, merchant, other_merchant, wallet, devnet
):
    mine = create(client, merchant, amount="1").json
    cancelled = create(client, merchant, amount="2").json
    client.post(f"{PAYOUTS}/{cancelled['id']}/cancel", headers=merchant.headers)
    listed = client.get(f"{PAYOUTS}?status=cancelled", headers=merchant.headers).json["data"]
    assert [p["id"] for p in listed] == [cancelled["id"]]
    everything = client.get(f"{PAYOUTS}?chain=devnet", headers=merchant.headers).json["data"]
    assert [p["id"] for p in everything] == [cancelled["id"], mine["id"]]
    assert client.get(f"{PAYOUTS}?status=lost", headers=merchant.headers).status_code == 422

    stranger = another_key(app, other_merchant.id, "payouts:write,payouts:approve")
    for method, path in [
        ("get", f"{PAYOUTS}/{mine['id']}"),
        ("post", f"{PAYOUTS}/{mine['id']}/approve"),
        ("post", f"{PAYOUTS}/{mine['id']}/cancel"),
    ]:
        response = getattr(client, method)(path, headers=stranger.headers)
        assert (response.status_code, response.json["code"]) == (404, "payout_not_found")
    signed = client.post(
        f"{PAYOUTS}/{mine['id']}/signed", json={"raw": "0x00"}, headers=stranger.headers
    )
    assert (signed.status_code, signed.json["code"]) == (404, "payout_not_found")
    assert client.get(PAYOUTS, headers=stranger.headers).json["data"] == []
    assert stored_payout(app, mine["id"]).status == "awaiting_approval"


def test_another_merchants_address_book_entry_is_404(client, merchant, other_merchant):
    added = client.post(
        ADDRESS_BOOK, json={"chain": "devnet", "address": somebody()}, headers=merchant.headers
    ).json
    response = client.delete(f"{ADDRESS_BOOK}/{added['id']}", headers=other_merchant.headers)
    assert (response.status_code, response.json["code"]) == (404, "address_book_entry_not_found")
    assert client.get(ADDRESS_BOOK, headers=other_merchant.headers).json["data"] == []
    assert len(client.get(ADDRESS_BOOK, headers=merchant.headers).json["data"]) == 1
    unknown = client.post(
        ADDRESS_BOOK,
        json={"chain": "devnet", "address": somebody(), "usable_after": "now"},
        headers=merchant.headers,
    )
    assert unknown.status_code == 422 and "usable_after" in unknown.json["errors"]


# -- refunds -----------------------------------------------------------------------------


def test_a_refund_pays_back_at_most_what_the_order_may_refund(
    app, client, merchant, other_merchant, shop, wallet
):
    order = shop.order("10")
    shop.pay(order, 12 * USDT)  # overpaid by 2
    shop.devnet.mine(3)
    shop.sync()
    assert shop.get(order["id"])["status"] == "paid"
    refunds = f"/api/v1/orders/{order['id']}/refunds"
    before = client.get(refunds, headers=merchant.headers).json
    assert (before["refundable"], before["refundable_base_units"], before["data"]) == (
        "2",
        "2000000",
        [],
    )
    buyer = somebody()
    too_much = client.post(refunds, json={"to": buyer, "amount": "2.01"}, headers=merchant.headers)
    assert (too_much.status_code, too_much.json["code"]) == (422, "refund_too_large")
    made = client.post(refunds, json={"to": buyer, "amount": "1.5"}, headers=merchant.headers)
    assert made.status_code == 201, made.json
    assert made.json["order_id"] == order["id"]
    assert made.json["reference"] == f"refund of {order['id']}"
    # the same through /payouts, with the order id
    direct = client.post(
        PAYOUTS,
        json=payout_body(to=buyer, amount="0.6", order_id=order["id"]),
        headers=merchant.headers,
    )
    assert (direct.status_code, direct.json["code"]) == (422, "refund_too_large")
    direct = client.post(
        PAYOUTS,
        json=payout_body(to=buyer, amount="0.5", order_id=order["id"]),
        headers=merchant.headers,
    )
    assert direct.status_code == 201
    after = client.get(refunds, headers=merchant.headers).json
    assert after["refundable"] == "0"
    assert [r["id"] for r in after["data"]] == [made.json["id"], direct.json["id"]]
    listed = client.get(f"{PAYOUTS}?order_id={order['id']}", headers=merchant.headers).json
    assert {p["id"] for p in listed["data"]} == {made.json["id"], direct.json["id"]}
    # another merchant's order is not found, by either way
    theirs = client.post(refunds, json={"to": buyer, "amount": "1"}, headers=other_merchant.headers)
    assert (theirs.status_code, theirs.json["code"]) == (404, "order_not_found")
    assert client.get(refunds, headers=other_merchant.headers).status_code == 404
    # a pending order has nothing to refund
    pending = shop.order("3")
    response = client.post(
        f"/api/v1/orders/{pending['id']}/refunds",
        json={"to": buyer, "amount": "1"},
        headers=merchant.headers,
    )
    assert (response.status_code, response.json["code"]) == (422, "refund_too_large")


# -- address book and policy -------------------------------------------------------------


def test_the_address_book_and_the_allow_list(app, client, merchant, wallet, devnet):
    policy = {
        "approval_threshold": "0",
        "daily_limit": None,
        "allowlist_only": True,
        "allowlist_cooldown_minutes": 60,
    }
    response = client.put(POLICY, json=policy, headers=merchant.headers)
    assert response.status_code == 200, response.json
    assert response.json == {"object": "payout_policy", **policy}
    trusted = somebody()
    refused = create(client, merchant, to=trusted)
    assert (refused.status_code, refused.json["code"]) == (422, "destination_not_allowed")

    added = client.post(
        ADDRESS_BOOK,
        json={"chain": "devnet", "address": trusted.lower(), "label": "treasury"},
        headers={**merchant.headers, "Idempotency-Key": "book-1"},
    )
    assert added.status_code == 201, added.json
    entry = added.json
    assert (entry["address"], entry["label"], entry["chain"]) == (trusted, "treasury", "devnet")
    assert entry["usable_after"] > entry["created_at"]
    duplicate = client.post(
        ADDRESS_BOOK, json={"chain": "devnet", "address": trusted}, headers=merchant.headers
    )
    assert (duplicate.status_code, duplicate.json["code"]) == (409, "address_exists")
    cooling = create(client, merchant, to=trusted)
    assert (cooling.status_code, cooling.json["code"]) == (422, "destination_cooling_down")

    # a cooldown of zero: a new entry is usable at once
    client.put(POLICY, json={**policy, "allowlist_cooldown_minutes": 0}, headers=merchant.headers)
    other = somebody()
    client.post(ADDRESS_BOOK, json={"chain": "devnet", "address": other}, headers=merchant.headers)
    assert create(client, merchant, to=other).status_code == 201

    listed = client.get(ADDRESS_BOOK, headers=merchant.headers).json["data"]
    assert [e["address"] for e in listed] == [other, trusted]
    for bad in (devnet.usdt, ZERO, "0x1", PAYER):
        response = client.post(
            ADDRESS_BOOK, json={"chain": "devnet", "address": bad}, headers=merchant.headers
        )
        assert (response.status_code, response.json["code"]) == (422, "invalid_address")
        assert "address" in response.json["errors"]
    removed = client.delete(f"{ADDRESS_BOOK}/{listed[0]['id']}", headers=merchant.headers)
    assert removed.status_code == 204
    assert create(client, merchant, to=other).json["code"] == "destination_not_allowed"
    gone = client.delete(f"{ADDRESS_BOOK}/{listed[0]['id']}", headers=merchant.headers)
    assert gone.status_code == 404
    with app.app_context():
        actions = db.session().scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions.count("address_book.add") == 2 and actions.count("address_book.remove") == 1
    assert actions.count("payout_policy.update") == 2


def test_the_policy_defaults_and_strict_input(client, merchant):
    got = client.get(POLICY, headers=merchant.headers).json
    assert got == {
        "object": "payout_policy",
        "approval_threshold": "0",
        "daily_limit": None,
        "allowlist_only": False,
        "allowlist_cooldown_minutes": 1440,
    }
    good = {
        "approval_threshold": "1000.50",
        "daily_limit": "5000.000",
        "allowlist_only": False,
        "allowlist_cooldown_minutes": 30,
    }
    stored = client.put(POLICY, json=good, headers=merchant.headers).json
    assert (stored["approval_threshold"], stored["daily_limit"]) == ("1000.5", "5000")
    for field, value in [
        ("allowlist_only", 1),
        ("allowlist_only", "true"),
        ("allowlist_cooldown_minutes", "30"),
        ("allowlist_cooldown_minutes", 1.5),
        ("allowlist_cooldown_minutes", -1),
        ("approval_threshold", 10),
        ("approval_threshold", "-1"),
        ("approval_threshold", "1e3"),
        ("daily_limit", "abc"),
        ("daily_limit", "1.0000000000000000001"),
        ("colour", "red"),
    ]:
        response = client.put(POLICY, json={**good, field: value}, headers=merchant.headers)
        assert response.status_code == 422, (field, value, response.json)
        assert field in response.json["errors"]
    missing = client.put(POLICY, json={"approval_threshold": "1"}, headers=merchant.headers)
    assert missing.status_code == 422
    assert client.get(POLICY, headers=merchant.headers).json == stored


def test_deposit_addresses_are_listed_with_their_paths(app, client, merchant, shop):
    first = shop.order("10")
    shop.order("5")  # never paid: not listed
    third = shop.order("7")
    shop.pay(first, 10 * USDT)
    shop.pay(third, 3 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    listed = client.get("/api/v1/balances/addresses", headers=merchant.headers).json
    assert [a["order_id"] for a in listed["data"]] == [third["id"], first["id"]]
    newest = listed["data"][0]
    assert newest["address"] == child_address(MERCHANT_EVM_XPUB, 2, Bip44Coins.ETHEREUM)
    assert (newest["received"], newest["received_base_units"]) == ("3", "3000000")
    assert (newest["relative_path"], newest["derivation_path"]) == ("0/2", "m/44'/60'/1'/0/2")
    assert listed["data"][1]["derivation_path"] == "m/44'/60'/1'/0/0"
    page = client.get("/api/v1/balances/addresses?limit=1", headers=merchant.headers).json
    assert page["has_more"] and len(page["data"]) == 1
    rest = client.get(
        f"/api/v1/balances/addresses?starting_after={page['data'][0]['order_id']}",
        headers=merchant.headers,
    ).json
    assert [a["order_id"] for a in rest["data"]] == [first["id"]] and not rest["has_more"]
    assert (
        client.get("/api/v1/balances/addresses?chain=tron", headers=merchant.headers).json["data"]
        == []
    )


def test_ledger_is_never_touched_by_a_refused_payout(app, client, merchant, wallet):
    with app.app_context():
        before = db.session().scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    for fields in ({"amount": "100.01"}, {"to": ZERO}, {"amount": "0"}, {"colour": 1}):
        assert create(client, merchant, **fields).status_code == 422
    with app.app_context():
        after = db.session().scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    assert after == before
    assert count(app, Payout) == 0 and count(app, AuditEntry) == 1  # the wallet's creation
