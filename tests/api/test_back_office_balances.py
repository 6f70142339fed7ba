"""Balances per chain and the ledger's movements: JSON pages, filters, and the CSV export
streamed over a year of history."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.wallet import history, ledger
from gateway.core.wallet.models import Account, Asset, LedgerEntry
from gateway.web import db
from gateway.web.api.transactions.schemas import CSV_COLUMNS
from gateway.web.app import create_app
from tests.api.back_office import (
    BALANCES,
    PAYOUTS,
    TRANSACTIONS,
    USDT,
    funded_wallet,
    payout_body,
    with_passphrase,
)


@pytest.fixture
def app_config(app_config, monkeypatch):
    """Hot wallets enabled: a passphrase in the environment."""
    return with_passphrase(app_config, monkeypatch)


def by_chain(client, merchant) -> dict[str, dict]:
    response = client.get(BALANCES, headers=merchant.headers)
    assert response.status_code == 200, response.json
    return {b["chain"]: b for b in response.json["data"]}


def test_balances_per_chain(app, client, merchant, other_merchant, shop):
    empty = by_chain(client, merchant)
    assert set(empty) == {"devnet", "tron"}
    assert empty["tron"]["received"] == "0" and empty["tron"]["payout"]["wallet_id"] is None
    assert empty["devnet"]["payout"]["gas"] is None

    paid = shop.order("10")
    shop.pay(paid, 12 * USDT)
    shop.devnet.mine(3)
    shop.sync()
    waiting = shop.order("5")
    shop.pay(waiting, 5 * USDT)
    shop.sync()  # seen, not yet confirmed
    wallet = funded_wallet(app, client, merchant, shop.devnet, 40 * USDT)
    client.post(PAYOUTS, json=payout_body(amount="15.5"), headers=merchant.headers)
    funded_wallet(app, client, other_merchant, shop.devnet, 7 * USDT)  # not ours

    devnet = by_chain(client, merchant)["devnet"]
    assert devnet == {
        "object": "chain_balance",
        "chain": "devnet",
        "decimals": 6,
        "received": "12",
        "received_base_units": "12000000",
        "pending": "5",
        "pending_base_units": "5000000",
        "payout": {
            "wallet_id": wallet["id"],
            "address": wallet["address"],
            "mode": "hot",
            "available": "24.5",
            "available_base_units": "24500000",
            "reserved": "15.5",
            "reserved_base_units": "15500000",
            "native_decimals": 18,
            "gas": "10",
            "gas_base_units": str(10 * 10**18),
            "fees_paid": "0",
            "fees_paid_base_units": "0",
        },
    }


def test_gas_is_null_when_the_node_cannot_be_reached(
    app, app_config, client, merchant, devnet, evm_proxy, evm_snapshot
):
    funded_wallet(app, client, merchant, devnet, 5 * USDT)
    chains = {**app_config["chains"], "devnet": {**app_config["chains"]["devnet"]}}
    chains["devnet"]["rpc_url"] = evm_proxy.url
    proxied = create_app({**app_config, "chains": chains})
    try:
        proxied_client = proxied.test_client()
        gas = by_chain(proxied_client, merchant)["devnet"]["payout"]["gas"]
        assert gas == "10"
        evm_proxy.unavailable(50, retry_after="3600")  # beyond the driver's quick retries
        devnet_balance = by_chain(proxied_client, merchant)["devnet"]
        assert devnet_balance["payout"]["gas"] is None
        assert devnet_balance["payout"]["gas_base_units"] is None
        assert devnet_balance["payout"]["available"] == "5"
        refused = proxied_client.post(
            PAYOUTS, json=payout_body(amount="1"), headers=merchant.headers
        )
        assert (refused.status_code, refused.json["code"]) == (503, "chain_unavailable")
    finally:
        proxied.extensions["db.engine"].dispose()


def test_balances_need_their_scope(client, make_merchant):
    orders_only = make_merchant("orders", scopes="orders:write,payouts:write,wallets:write")
    for path in (BALANCES, f"{BALANCES}/addresses", TRANSACTIONS):
        response = client.get(path, headers=orders_only.headers)
        assert (response.status_code, response.json["code"]) == (403, "insufficient_scope")
    reader = make_merchant("reader", scopes="balances:read")
    assert client.get(BALANCES, headers=reader.headers).status_code == 200


# -- the ledger's movements --------------------------------------------------------------

START = datetime(2025, 1, 1, tzinfo=UTC)


def a_year_of_history(app, merchant_id: str, movements: int) -> int:
    """Deposits spread over a year, every tenth paid out with its fee; returns the sum of
    the token amounts as the merchant sees them."""
    step = timedelta(days=365) / movements
    total = 0
    with app.app_context(), db.transaction() as session:
        for i in range(movements):
            at = START + i * step
            if i % 10 == 9:
                ledger.move(
                    session, merchant_id, "devnet", "payout_sent", 2 * USDT,
                    Account.RESERVED, Account.WORLD, payout_id=f"po_{i}", created_at=at,
                )  # fmt: skip
                total -= 2 * USDT
            else:
                ledger.move(
                    session, merchant_id, "devnet", "deposit", 3 * USDT + i,
                    Account.WORLD, Account.PAYOUT, tx_hash=f"0x{i:064x}", created_at=at,
                )  # fmt: skip
                total += 3 * USDT + i
    return total


def test_movements_page_newest_first_with_filters(app, client, merchant, other_merchant):
    a_year_of_history(app, merchant.id, 30)
    a_year_of_history(app, other_merchant.id, 5)
    with app.app_context(), db.transaction() as session:
        ledger.move(
            session, merchant.id, "devnet", "fee", 21000, Account.WORLD, Account.FEES,
            Asset.NATIVE, payout_id="po_fee", created_at=START + timedelta(days=400),
        )  # fmt: skip
    seen, after = [], None
    while True:
        query = {"limit": 7, **({"starting_after": after} if after else {})}
        page = client.get(TRANSACTIONS, query_string=query, headers=merchant.headers).json
        seen += page["data"]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert len(seen) == 31 and len({m["id"] for m in seen}) == 31
    assert [m["created_at"] for m in seen] == sorted((m["created_at"] for m in seen), reverse=True)
    fee = seen[0]
    assert (fee["type"], fee["asset"], fee["amount"], fee["amount_base_units"]) == (
        "fee",
        "native",
        "-0.000000000000021",
        "-21000",
    )
    sent = next(m for m in seen if m["type"] == "payout_sent")
    assert (sent["amount"], sent["moved"], sent["from_account"], sent["to_account"]) == (
        "-2",
        "2",
        "reserved",
        "world",
    )

    def listed(**query) -> list[dict]:
        response = client.get(
            TRANSACTIONS, query_string={"limit": 100, **query}, headers=merchant.headers
        )
        assert response.status_code == 200, response.json
        return response.json["data"]

    assert len(listed(type="payout_sent")) == 3
    assert len(listed(type="deposit")) == 27
    assert listed(chain="tron") == []
    assert len(listed(created_gte="2025-07-02T12:00:00Z")) == 15 + 1
    assert len(listed(created_lt="2025-01-13T00:00:00Z")) == 1
    assert len(listed(created_gte="2025-01-01T00:00:00Z", created_lt="2025-02-01T00:00:00Z")) == 3
    for bad in ({"type": "gift"}, {"starting_after": "mov_nope"}, {"colour": "red"}):
        response = client.get(TRANSACTIONS, query_string=bad, headers=merchant.headers)
        assert response.status_code == 422, bad
    # another merchant's movement is no cursor here
    theirs = client.get(TRANSACTIONS, headers=other_merchant.headers).json["data"][0]["id"]
    response = client.get(
        TRANSACTIONS, query_string={"starting_after": theirs}, headers=merchant.headers
    )
    assert (response.status_code, response.json["code"]) == (422, "invalid_cursor")


def test_the_csv_export_streams_a_year_of_history(app, client, merchant):
    movements = 3000
    total = a_year_of_history(app, merchant.id, movements)
    headers = {**merchant.headers, "Accept": "text/csv"}
    response = client.get(TRANSACTIONS, headers=headers, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    chunks = iter(response.response)
    first = next(chunks)
    first = first.decode() if isinstance(first, bytes) else first
    assert first.startswith(",".join(CSV_COLUMNS) + "\r\n")
    assert first.count("\r\n") < movements  # the first chunk is not the whole answer
    rest = [c.decode() if isinstance(c, bytes) else c for c in chunks]
    response.close()
    assert len(rest) > 5
    rows = list(csv.DictReader(io.StringIO(first + "".join(rest))))
    assert len(rows) == movements
    assert len({r["id"] for r in rows}) == movements
    assert sum(int(r["amount_base_units"]) for r in rows) == total
    assert rows[0]["created_at"] > rows[-1]["created_at"]
    deposit = next(r for r in rows if r["type"] == "deposit")
    assert (deposit["payout_id"], deposit["asset"], deposit["chain"]) == ("", "token", "devnet")
    assert int(deposit["amount_base_units"]) == int(deposit["moved_base_units"]) > 0

    # the same filters as the JSON list
    filtered = client.get(
        TRANSACTIONS, query_string={"type": "payout_sent"}, headers=headers
    ).get_data(as_text=True)
    sent = list(csv.DictReader(io.StringIO(filtered)))
    assert len(sent) == movements // 10 and {r["amount"] for r in sent} == {"-2"}
    empty = client.get(TRANSACTIONS, query_string={"chain": "tron"}, headers=headers)
    assert empty.get_data(as_text=True) == ",".join(CSV_COLUMNS) + "\r\n"
    bad = client.get(TRANSACTIONS, query_string={"starting_after": "mov_x"}, headers=headers)
    assert (bad.status_code, bad.json["code"]) == (422, "invalid_cursor")
    # JSON stays the default
    assert client.get(TRANSACTIONS, headers=merchant.headers).json["object"] == "list"


def test_interleaved_postings_give_each_movement_once(app, merchant):
    """Postings of concurrent movements interleave in the table; batches that cut through
    a movement still give it out exactly once, complete, in order of its newest posting."""
    with app.app_context(), db.transaction() as session:
        rows = [
            ("mov_a", Account.WORLD, -5),
            ("mov_b", Account.WORLD, -7),
            ("mov_a", Account.PAYOUT, 5),
            ("mov_c", Account.PAYOUT, -1),
            ("mov_b", Account.RECEIVED, 7),
            ("mov_c", Account.RESERVED, 1),
        ]
        for movement, account, amount in rows:
            session.add(
                LedgerEntry(
                    movement=movement, merchant_id=merchant.id, chain="devnet",
                    asset=Asset.TOKEN, account=account, amount=amount, kind="deposit",
                )
            )  # fmt: skip
            session.flush()
    with app.app_context():
        session = db.session()
        for batch in (1, 2, 3, 4, 500):
            found = list(
                history.movements(session, merchant.id, history.MovementFilter(), batch=batch)
            )
            assert [(m.id, m.amount, m.moved) for m in found] == [
                ("mov_c", 0, 1),
                ("mov_b", 7, 7),
                ("mov_a", 5, 5),
            ], batch
            below_c = history.position(session, merchant.id, "mov_c", history.MovementFilter())
            rest = history.movements(session, merchant.id, history.MovementFilter(), below_c, batch)
            assert [m.id for m in rest] == ["mov_b", "mov_a"]
