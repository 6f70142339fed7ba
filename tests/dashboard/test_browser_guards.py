"""Guards seen from a real browser: a viewer's page has no write button and its direct
POSTs get 403; a POST without CSRF token, a cookie replayed after logout, another
merchant's things by URL, and brute force on the login are all refused."""

from __future__ import annotations

from tests.dashboard.browser import csrf, expect, sign_in


def test_a_viewer_reads_but_cannot_write(server, open_page, make_user, merchant, buyer):
    viewer = make_user(merchant.id, "viewer")
    order = buyer.order("3")
    page = open_page()
    sign_in(page, server, viewer.email, viewer.password)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.goto(f"{server}/dashboard/orders/{order['id']}")
    expect(page.get_by_text(order["address"])).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the order")).to_have_count(0)
    for path, button in (
        ("keys", "Create the key"),
        ("webhooks", "Add an endpoint"),
        ("settings", "Show the first addresses"),
        ("team", "Make an invitation link"),
    ):
        page.goto(f"{server}/dashboard/{path}")
        expect(page.get_by_text(button)).to_have_count(0)
    token = csrf(page)
    for path in (f"orders/{order['id']}/cancel", "keys", "webhooks", "settings/branding", "team"):
        answer = page.request.post(f"{server}/dashboard/{path}", form={"csrf_token": token})
        assert answer.status == 403, path
    assert buyer.status(order["id"])["status"] == "pending"


def test_csrf_replay_other_merchants_and_brute_force(
    server, open_page, owner, make_merchant, make_user, buyer
):
    page = open_page()
    sign_in(page, server, owner.email, owner.password)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    order = buyer.order("4")

    # a POST without the CSRF token (as another site's form would send it)
    refused = page.request.post(f"{server}/dashboard/orders/{order['id']}/cancel", form={"x": "1"})
    assert refused.status == 400
    assert buyer.status(order["id"])["status"] == "pending"

    # the session cookie, kept by a thief, is worthless after logout
    cookies = page.context.cookies()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    thief = open_page()
    thief.context.add_cookies(cookies)
    thief.goto(f"{server}/dashboard/")
    expect(thief.get_by_role("heading", name="Sign in")).to_be_visible()

    # another merchant's owner opens this merchant's order by URL
    other = make_merchant("elsewhere")
    stranger = make_user(other.id, "owner")
    sign_in(thief, server, stranger.email, stranger.password)
    expect(thief.get_by_role("heading", name="Overview")).to_be_visible()
    answer = thief.goto(f"{server}/dashboard/orders/{order['id']}")
    assert answer.status == 404
    expect(thief.get_by_role("heading", name="Not found")).to_be_visible()

    # guessing passwords: after a few tries even the right one has to wait
    guesser = open_page()
    for _ in range(9):  # 5 free, then waits of 1, 2, 4 and 8 s: the right one comes too soon
        sign_in(guesser, server, owner.email, "not the password")
    sign_in(guesser, server, owner.email, owner.password)
    expect(guesser.get_by_text("Too many attempts")).to_be_visible()
    expect(guesser.get_by_role("heading", name="Sign in")).to_be_visible()
