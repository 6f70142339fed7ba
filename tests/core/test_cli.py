"""The operator's commands: merchants, xpubs, API keys."""

from __future__ import annotations

import sqlalchemy as sa
from bip_utils import Bip44Coins

from gateway.core.models import ApiKey, HdAccount, Merchant
from gateway.web import db
from plugins.hd import child_address
from tests.support.keys import account_xpub

XPUB = account_xpub(Bip44Coins.ETHEREUM, account=3)


def invoke(runner, *args):
    return runner.invoke(args=list(args), catch_exceptions=False)


def test_merchant_xpub_and_key_then_the_key_works(app, runner, client):
    created = invoke(runner, "merchant", "create", "Corner Shop")
    assert created.exit_code == 0
    merchant_id = created.output.strip()
    assert merchant_id.startswith("mch_")

    registered = invoke(runner, "merchant", "xpub", "Corner Shop", "devnet", XPUB)
    assert registered.exit_code == 0
    assert child_address(XPUB, 0, Bip44Coins.ETHEREUM) in registered.output

    made = invoke(runner, "key", "create", merchant_id, "--scopes", "orders:write", "--name", "web")
    assert made.exit_code == 0
    key = made.output.strip()
    response = client.post(
        "/api/v1/orders",
        headers={"Authorization": f"Bearer {key}"},
        json={"amount": "3", "chain": "devnet", "reference": "x"},
    )
    assert response.status_code == 201
    with app.app_context():
        stored = db.session().scalar(sa.select(ApiKey))
    assert (stored.name, stored.scopes) == ("web", ["orders:write"])
    assert key.split("_", 2)[2] not in stored.secret_hash


def test_bad_input_is_refused_with_a_message(app, runner):
    invoke(runner, "merchant", "create", "Shop")
    duplicate = invoke(runner, "merchant", "create", "Shop")
    assert duplicate.exit_code != 0 and "exists" in duplicate.output
    assert (
        "no merchant" in invoke(runner, "key", "create", "Nobody", "--scopes", "orders:read").output
    )
    bad_scope = invoke(runner, "key", "create", "Shop", "--scopes", "orders:delete")
    assert bad_scope.exit_code != 0 and "unknown scope" in bad_scope.output
    private = account_xpub(Bip44Coins.ETHEREUM, account=3).replace("xpub", "xprv")
    for bad in ("not-a-key", private):
        result = invoke(runner, "merchant", "xpub", "Shop", "devnet", bad)
        assert result.exit_code != 0
    assert "no enabled chain" in invoke(runner, "merchant", "xpub", "Shop", "doge", XPUB).output
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(HdAccount)) == 0
        assert db.session().scalar(sa.select(sa.func.count()).select_from(Merchant)) == 1


def test_an_xpub_serves_one_merchant_only(runner):
    invoke(runner, "merchant", "create", "A")
    invoke(runner, "merchant", "create", "B")
    assert invoke(runner, "merchant", "xpub", "A", "devnet", XPUB).exit_code == 0
    taken = invoke(runner, "merchant", "xpub", "B", "devnet", XPUB)
    assert taken.exit_code != 0 and "another merchant" in taken.output
