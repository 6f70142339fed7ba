"""GET on an order and on the checkout's status feed: an ETag, and 304 while unchanged."""

from __future__ import annotations


def _order(client, merchant) -> dict:
    body = {"amount": "5", "chain": "devnet", "reference": "etag"}
    return client.post("/api/v1/orders", json=body, headers=merchant.headers).json


def test_an_unchanged_order_is_304_and_a_changed_one_200(client, merchant):
    order = _order(client, merchant)
    url = f"/api/v1/orders/{order['id']}"
    first = client.get(url, headers=merchant.headers)
    etag = first.headers["ETag"]
    assert first.json == order
    again = client.get(url, headers={**merchant.headers, "If-None-Match": etag})
    assert (again.status_code, again.get_data(), again.headers["ETag"]) == (304, b"", etag)
    client.post(f"{url}/cancel", headers=merchant.headers)
    changed = client.get(url, headers={**merchant.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["status"] == "cancelled"
    assert changed.headers["ETag"] != etag


def test_the_checkout_status_is_304_while_only_the_clock_moves(client, merchant):
    order = _order(client, merchant)
    url = f"/pay/{order['id']}/status.json"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    client.post(f"/api/v1/orders/{order['id']}/cancel", headers=merchant.headers)
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["status"] == "cancelled"


def test_another_merchants_etag_learns_nothing(client, merchant, other_merchant):
    theirs = _order(client, other_merchant)
    answer = client.get(
        f"/api/v1/orders/{theirs['id']}", headers={**merchant.headers, "If-None-Match": "*"}
    )
    assert answer.status_code == 404
