"""A Chinese browser (Accept-Language zh-CN) gets the checkout page and the dashboard in
Simplified Chinese, with amounts and dates formatted for it; the switch is remembered."""

from __future__ import annotations

import re

from tests.dashboard.browser import expect


def test_checkout_and_dashboard_render_in_chinese(server, open_page, owner, buyer):
    order = buyer.order("1234.5")
    page = open_page(locale="zh-CN")
    page.goto(f"{server}/pay/{order['id']}")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("等待付款")
    expect(page.get_by_text("请准确发送")).to_be_visible()
    expect(page.get_by_role("link", name="在钱包中打开")).to_be_visible()
    expect(page.get_by_role("button", name="复制").first).to_be_visible()
    buyer.receive(order["id"], 1_000_000_000)
    expect(page.locator("h1")).to_have_text("部分已付", timeout=15_000)
    expect(page.locator(".detail")).to_contain_text("已收到 1,000 USDT")

    page.goto(f"{server}/dashboard/login")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("邮箱").fill(owner.email)
    page.get_by_label("密码").fill(owner.password)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="概览")).to_be_visible()
    page.get_by_role("link", name="订单").click()
    row = page.locator("table.orders tbody tr").first
    expect(row).to_contain_text("1,234.5")
    expect(row).to_contain_text("待付款")
    expect(row).to_contain_text(re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"))

    # the switch to English is remembered, whatever the browser prefers
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    page.goto(f"{server}/dashboard/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
