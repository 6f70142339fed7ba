"""Signing, the retry schedule and the SSRF address rules, without any server."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from plugins.http import parse_retry_after
from webhooks import schedule, signing, ssrf


def test_secret_format_and_signature_verify_with_the_standard_library():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    now = int(datetime.now(UTC).timestamp())
    body = b'{"type":"order.paid"}'
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signing.signature_header([secret], "evt_1", now, body),
    }
    Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_default_schedule_spans_about_three_days():
    delays = schedule.parse(schedule.DEFAULT)
    assert delays[:3] == [5, 300, 1800]
    assert len(delays) == 9
    assert 2.9 * 86400 < sum(delays) < 3.5 * 86400
    assert schedule.parse("1.5, 2m 1d") == [1.5, 120, 86400]
    with pytest.raises(ValueError):
        schedule.parse("5 weeks")


def test_next_delay_jitters_honours_retry_after_and_ends():
    delays = [10.0, 20.0]
    assert 9 <= schedule.next_delay(1, delays) <= 11
    assert schedule.next_delay(1, delays, retry_after=60) == 60
    assert schedule.next_delay(1, delays, retry_after=10**9) == schedule.MAX_RETRY_AFTER
    assert schedule.next_delay(3, delays) is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now) == 60
    assert parse_retry_after("soon", now) is None


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("2606:4700::1111", True),
    ],
)
def test_public_addresses(address, public):
    assert ssrf.is_public(address) is public


def test_url_rules():
    with pytest.raises(ssrf.TargetRefused) as refused:
        ssrf.check_url("http://user:pw@93.184.216.34/")
    assert refused.value.code == "url_invalid"
    ssrf.check_url("http://127.0.0.1:8000/", allow_private=True)
    ssrf.check_url("https://93.184.216.34/hook")
