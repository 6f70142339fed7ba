"""Logs: one JSON object per line in production, and never a secret."""

from __future__ import annotations

import json
import logging

from gateway.logs import JsonFormatter


def test_json_lines_carry_the_extra_fields():
    record = logging.LogRecord(
        "gateway.watcher", logging.INFO, __file__, 1, "scanned %s-%s", (1, 5), None
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
