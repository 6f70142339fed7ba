"""Headless Chromium for the dashboard's browser tests (Debian's, as the checkout's tests
use it), and what a test does in it: sign in, read the CSRF token, post as the page would."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.checkout.test_browser import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
# docs/screenshots/ is refreshed on demand (DASHBOARD_SCREENSHOTS=docs/screenshots), so a
# test run leaves the committed pictures alone
SHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tempfile.gettempdir())
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_or_skip():
    """Playwright's sync API, or a skip (a failure in CI) when there is no Chromium."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}", pytrace=False)
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="pip install playwright")


def browser_fixture() -> Iterator:
    """One Chromium per module (the conftest's ``browser``)."""
    sync_api = chromium_or_skip()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def pages_fixture(browser) -> Iterator:
    """Pages in fresh contexts (``open_page(locale="zh-CN")``); script errors fail the test."""
    contexts, errors = [], []

    def make(viewport=DESKTOP, **options):
        context = browser.new_context(viewport=viewport, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()
    # a CSP violation or a script error shows up here; a 4xx page the test asked for is fine
    assert [e for e in errors if "status of 4" not in e] == []


def expect(*args, **kwargs):
    """Playwright's ``expect``."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def sign_in(page, server: str, email: str, password: str) -> None:
    """Fill the login form and send it."""
    page.goto(f"{server}/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def csrf(page) -> str:
    """The CSRF token of the page shown."""
    return page.locator('meta[name="csrf-token"]').get_attribute("content")


def shoot(page, name: str) -> None:
    """A full-page screenshot in SHOTS."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
