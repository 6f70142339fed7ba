"""Payout wallets through the API and the CLI: hot (a key the gateway keeps sealed) or
external; the key never shows, anywhere."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa

from gateway.core.audit import AuditEntry
from gateway.core.wallet import keys
from gateway.core.wallet.keys import KeyRing
from gateway.core.wallet.models import PayoutWallet
from gateway.web import db
from gateway.web.app import create_app
from tests.api.back_office import (
    PASSPHRASE,
    PASSPHRASE_ENV,
    WALLETS,
    count,
    hot_wallet,
    new_evm_key,
    stored_wallet,
    with_passphrase,
)
from tests.fixtures.tron import PAYER


@pytest.fixture
def app_config(app_config, monkeypatch):
    """Hot wallets enabled: a passphrase in the environment."""
    return with_passphrase(app_config, monkeypatch)


def opened_key(app, wallet_id: str) -> bytes:
    """The hot wallet's private key, as the sender would open it."""
    wallet = stored_wallet(app, wallet_id)
    return KeyRing(app.config["GATEWAY"]["wallets"]).open(wallet.keystore)


def test_a_hot_wallet_gets_a_new_key_that_never_appears(app, client, merchant, caplog):
    caplog.set_level(logging.DEBUG)
    response = client.post(
        WALLETS,
        json={"chain": "devnet", "mode": "hot"},
        headers={**merchant.headers, "Idempotency-Key": "wallet-1"},
    )
    assert response.status_code == 201, response.json
    wallet = response.json
    assert wallet["id"].startswith("pwl_")
    assert (wallet["object"], wallet["chain"], wallet["mode"]) == ("payout_wallet", "devnet", "hot")
    assert set(wallet) == {"id", "object", "chain", "mode", "address", "created_at"}

    key = opened_key(app, wallet["id"])
    with app.app_context():
        from gateway.web.chains import drivers

        assert drivers()["devnet"].address_of_key(key) == wallet["address"]
    # a replay, the list, the wallet, a refused second creation, the audit log: no key
    replay = client.post(
        WALLETS,
        json={"chain": "devnet", "mode": "hot"},
        headers={**merchant.headers, "Idempotency-Key": "wallet-1"},
    )
    assert replay.data == response.data
    again = client.post(WALLETS, json={"chain": "devnet", "mode": "hot"}, headers=merchant.headers)
    assert (again.status_code, again.json["code"]) == (409, "wallet_exists")
    answers = [
        response,
        replay,
        again,
        client.get(WALLETS, headers=merchant.headers),
        client.get(f"{WALLETS}/{wallet['id']}", headers=merchant.headers),
        client.get("/api/v1/audit-log", headers=merchant.headers),
    ]
    with app.app_context():
        audit = db.session().scalars(sa.select(AuditEntry)).all()
        stored = db.session().scalar(sa.select(PayoutWallet))
    secrets = {key.hex(), "0x" + key.hex(), PASSPHRASE}
    texts = [a.get_data(as_text=True) for a in answers] + [caplog.text]
    texts += [json.dumps(e.details) for e in audit]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert key.hex() not in stored.keystore  # sealed, not stored in the clear
    assert [(e.action, e.subject, e.details["key"]) for e in audit] == [
        ("payout_wallet.create", wallet["id"], "generated")
    ]


def test_an_external_wallet_is_registered_by_address(app, client, merchant):
    _, address = new_evm_key()
    response = client.post(
        WALLETS,
        json={"chain": "devnet", "mode": "external", "address": address.lower()},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.json
    assert (response.json["mode"], response.json["address"]) == ("external", address)
    assert stored_wallet(app, response.json["id"]).keystore is None


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"chain": "devnet", "mode": "external"}, "address", "validation_error"),
        ({"chain": "devnet", "mode": "external", "address": "0x123"}, "address", "invalid_address"),
        ({"chain": "devnet", "mode": "external", "address": PAYER}, "address", "invalid_address"),
        ({"chain": "devnet", "mode": "hot", "address": "0x" + "1" * 40}, "address", None),
        ({"chain": "devnet", "mode": "cold"}, "mode", "validation_error"),
        ({"chain": "dogecoin", "mode": "hot"}, "chain", "validation_error"),
        ({"chain": "devnet", "mode": "hot", "key": "00" * 32}, "key", "validation_error"),
        ({"mode": "hot"}, "chain", "validation_error"),
    ],
)
def test_bad_wallet_input_is_422_and_writes_nothing(app, client, merchant, body, field, code):
    response = client.post(WALLETS, json=body, headers=merchant.headers)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert response.json["code"] == (code or "validation_error")
    assert count(app, PayoutWallet) == 0
    assert count(app, AuditEntry) == 0


def test_hot_wallets_without_a_passphrase_are_503_and_say_so_once_at_start(
    app_config, client, merchant, monkeypatch, caplog
):
    monkeypatch.delenv(PASSPHRASE_ENV)
    with caplog.at_level(logging.WARNING, logger="gateway.web.app"):
        bare = create_app(app_config)
    warnings = [r for r in caplog.records if r.name == "gateway.web.app"]
    assert len(warnings) == 1 and "hot payout wallets are disabled" in warnings[0].getMessage()
    try:
        response = bare.test_client().post(
            WALLETS, json={"chain": "devnet", "mode": "hot"}, headers=merchant.headers
        )
        assert response.status_code == 503
        assert response.json["code"] == "hot_wallets_disabled"
        # external wallets need no passphrase
        _, address = new_evm_key()
        external = bare.test_client().post(
            WALLETS,
            json={"chain": "devnet", "mode": "external", "address": address},
            headers=merchant.headers,
        )
        assert external.status_code == 201
    finally:
        bare.extensions["db.engine"].dispose()


def test_an_unreadable_passphrase_file_stops_the_app_naming_the_setting(app_config, tmp_path):
    from gateway.core.config import ConfigError

    broken = {**app_config, "wallets": {"passphrase_file": str(tmp_path / "missing")}}
    with pytest.raises(ConfigError, match=r"wallets\.passphrase_file"):
        create_app(broken)


def test_wallets_are_listed_and_read_and_another_merchants_are_404(
    client, merchant, other_merchant
):
    mine = hot_wallet(client, merchant)
    theirs = hot_wallet(client, other_merchant)
    listed = client.get(WALLETS, headers=merchant.headers).json
    assert [w["id"] for w in listed["data"]] == [mine["id"]]
    assert client.get(f"{WALLETS}/{mine['id']}", headers=merchant.headers).json == mine
    response = client.get(f"{WALLETS}/{theirs['id']}", headers=merchant.headers)
    assert (response.status_code, response.json["code"]) == (404, "payout_wallet_not_found")
    # the same chain for two merchants: one wallet each
    assert mine["address"] != theirs["address"]


def test_wallet_scopes(client, make_merchant):
    reader = make_merchant("reader", scopes="wallets:read")
    assert client.get(WALLETS, headers=reader.headers).status_code == 200
    refused = client.post(WALLETS, json={"chain": "devnet", "mode": "hot"}, headers=reader.headers)
    assert (refused.status_code, refused.json["code"]) == (403, "insufficient_scope")
    writer = make_merchant("writer", scopes="wallets:write")
    assert client.get(WALLETS, headers=writer.headers).status_code == 200
    payouts_only = make_merchant("payer", scopes="payouts:write")
    assert client.get(WALLETS, headers=payouts_only.headers).status_code == 403


# -- the CLI ------------------------------------------------------------------------------


def invoke(runner, *args, **kwargs):
    return runner.invoke(args=list(args), catch_exceptions=False, **kwargs)


def test_cli_creates_hot_and_external_wallets_audited_as_cli(app, runner, merchant):
    hot = invoke(runner, "wallet", "create", "shop", "devnet")
    assert hot.exit_code == 0, hot.output
    wallet_id, mode, chain, address = hot.output.split()[:4]
    assert (mode, chain) == ("hot", "devnet")
    key = opened_key(app, wallet_id)
    assert key.hex() not in hot.output

    _, external = new_evm_key()
    made = invoke(runner, "wallet", "create", "shop", "tron", "--external", external)
    assert made.exit_code != 0 and "not a valid tron address" in made.output
    made = invoke(runner, "wallet", "create", "shop", "tron", "--external", PAYER)
    assert made.exit_code == 0, made.output
    again = invoke(runner, "wallet", "create", "shop", "devnet")
    assert again.exit_code != 0 and "already" in again.output
    assert "no merchant" in invoke(runner, "wallet", "create", "nobody", "devnet").output
    assert "no enabled chain" in invoke(runner, "wallet", "create", "shop", "doge").output
    with app.app_context():
        audit = db.session().scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [(e.actor, e.ip, e.details["mode"]) for e in audit] == [
        ("cli", None, "hot"),
        ("cli", None, "external"),
    ]
    assert address == stored_wallet(app, wallet_id).address


def test_cli_imports_a_keystore_sealing_it_again(app, runner, merchant, tmp_path):
    key, address = new_evm_key()
    path = tmp_path / "keystore.json"
    path.write_text(keys.encrypt(key, "the file's own password", 2**4))

    wrong = invoke(runner, "wallet", "import", "shop", "devnet", str(path), input="nope\n")
    assert wrong.exit_code != 0 and "does not open" in wrong.output
    assert "the file's own password" not in wrong.output
    done = invoke(
        runner, "wallet", "import", "shop", "devnet", str(path), input="the file's own password\n"
    )
    assert done.exit_code == 0, done.output
    assert "the file's own password" not in done.output and key.hex() not in done.output
    assert done.output.startswith("Keystore password: \n")  # hidden: nothing echoed
    wallet_id = done.output.split()[2]
    wallet = stored_wallet(app, wallet_id)
    assert wallet.address == address
    assert opened_key(app, wallet_id) == key  # under the gateway's passphrase now
    with pytest.raises(keys.WrongPassphrase):
        keys.decrypt(wallet.keystore, "the file's own password")
    with app.app_context():
        entry = db.session().scalar(sa.select(AuditEntry))
    assert (entry.actor, entry.details["key"]) == ("cli", "imported")


def test_cli_hot_wallets_need_the_passphrase(app_config, merchant, monkeypatch):
    from tests.conftest import GatewayRunner

    monkeypatch.delenv(PASSPHRASE_ENV)
    bare = create_app(app_config)
    try:
        result = GatewayRunner(bare).invoke(args=["wallet", "create", "shop", "devnet"])
        assert result.exit_code != 0 and "hot wallets are disabled" in result.output
    finally:
        bare.extensions["db.engine"].dispose()
