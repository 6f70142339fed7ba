"""Logs: one JSON object per line in production, and never a secret."""

from __future__ import annotations

import json
import logging

import pytest

from gateway.core.logs import JsonFormatter


def test_json_lines_carry_the_extra_fields():
    record = logging.LogRecord(
        "gateway.core.watcher", logging.INFO, __file__, 1, "scanned %s-%s", (1, 5), None
    )
    record.chain = "tron"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert (entry["message"], entry["level"], entry["chain"]) == ("scanned 1-5", "info", "tron")


def test_no_secret_reaches_the_logs(client, merchant, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = merchant.key[:-4] + "AAAA"
    client.get("/api/v1/orders", headers={"Authorization": f"Bearer {wrong}"})
    client.get("/api/v1/orders", headers=merchant.headers)
    created = client.post(
        "/api/v1/webhook-endpoints",
        headers=merchant.headers,
        json={"url": "https://shop.example/hooks", "event_types": ["order.paid"]},
    )
    secret = created.json["secret"]
    client.post(
        f"/api/v1/webhook-endpoints/{created.json['id']}/rotate-secret", headers=merchant.headers
    )
    text = caplog.text
    for value in (
        merchant.key,
        merchant.key.split("_", 2)[2],
        wrong,
        secret,
        secret.removeprefix("whsec_"),
    ):
        assert value not in text


@pytest.fixture
def app_config(app_config, monkeypatch):
    """Hot wallets on: their passphrase is one of the secrets watched for."""
    from tests.api import back_office

    return back_office.with_passphrase(app_config, monkeypatch)


def test_no_key_secret_passphrase_xpub_or_token_reaches_a_log_line(
    app, client, runner, make_merchant, caplog
):
    """Every record of a session that touches each kind of secret, as the JSON lines
    production writes (extra fields included): none holds one."""
    from bip_utils import Bip44Coins

    from tests.api import back_office
    from tests.support.keys import account_xpub

    caplog.set_level(logging.DEBUG)
    for name in ("gateway", "webhooks", "plugins"):
        caplog.set_level(logging.DEBUG, logger=name)
    merchant = make_merchant("secretive", xpubs={})
    xpub = account_xpub(Bip44Coins.ETHEREUM, account=7)
    assert runner.invoke(args=["merchant", "xpub", merchant.id, "devnet", xpub]).exit_code == 0
    client.get("/api/v1/orders", headers={"Authorization": f"Bearer {merchant.key}x"})
    hook = client.post(
        "/api/v1/webhook-endpoints",
        headers={**merchant.headers, "Idempotency-Key": "k1"},
        json={"url": "https://shop.example/hooks", "event_types": ["*"]},
    ).json
    client.post(
        "/api/v1/webhook-endpoints",
        headers={**merchant.headers, "Idempotency-Key": "k1"},
        json={"url": "https://shop.example/hooks", "event_types": ["*"]},
    )
    rotated = client.post(
        f"/api/v1/webhook-endpoints/{hook['id']}/rotate-secret", headers=merchant.headers
    ).json
    wallet = client.post(
        back_office.WALLETS, json={"chain": "devnet", "mode": "hot"}, headers=merchant.headers
    )
    assert wallet.status_code == 201, wallet.json
    made = runner.invoke(args=["oauth", "client-create", merchant.id, "--scopes", "orders:read"])
    client_id, client_secret = (line.split()[1] for line in made.output.strip().splitlines())
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
    ).json["access_token"]
    client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"})
    client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"},
    )

    formatter = JsonFormatter()
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    assert "POST /oauth/token" in lines  # the access lines were captured
    secrets = {
        "api key": merchant.key,
        "api key secret": merchant.key.split("_", 2)[2],
        "webhook secret": hook["secret"].removeprefix("whsec_"),
        "rotated secret": rotated["secret"].removeprefix("whsec_"),
        "passphrase": back_office.PASSPHRASE,
        "xpub": xpub,
        "oauth client secret": client_secret,
        "access token signature": token.rsplit(".", 1)[1],
    }
    assert [name for name, value in secrets.items() if value in lines] == []
