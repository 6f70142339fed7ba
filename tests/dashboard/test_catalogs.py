"""Every string a template or view shows is in the Chinese catalogs, translated, with the
same placeholders; and the pages render in Chinese for a Chinese browser."""

from __future__ import annotations

import re

import pytest

from gateway.web import catalogs

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.fixture
def chain_settings():
    """Catalogs need no chain."""
    return {}


@pytest.mark.parametrize("room", sorted(catalogs.ROOMS))
@pytest.mark.parametrize("locale", catalogs.LOCALES)
def test_every_message_is_in_the_catalog_and_translated(room, locale):
    committed = catalogs.read(room, locale)
    missing, untranslated, mismatched = [], [], []
    for message in catalogs.extract(room):
        if not message.id:
            continue
        found = committed.get(message.id)
        if found is None:
            missing.append(message.id)
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if not all(strings) or found.fuzzy:
            untranslated.append(message.id)
            continue
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        if any(set(PLACEHOLDER.findall(text)) != wanted for text in strings):
            mismatched.append(message.id)
    hint = "run `python -m gateway.web.catalogs update`, then translate the new entries"
    assert missing == [], hint
    assert untranslated == []
    assert mismatched == []


def test_the_dashboard_speaks_chinese_to_a_chinese_browser(client):
    headers = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    html = client.get("/dashboard/login", headers=headers).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "<h1>登录</h1>" in html
    english = client.get("/dashboard/login").get_data(as_text=True)
    assert "<h1>Sign in</h1>" in english


def test_the_switch_is_remembered(client):
    first = client.get("/dashboard/login?lang=zh_Hans_CN", headers={"Accept-Language": "en"})
    assert "<h1>登录</h1>" in first.get_data(as_text=True)
    assert "lang=zh_Hans_CN" in first.headers["Set-Cookie"]
    again = client.get("/dashboard/login", headers={"Accept-Language": "en"})
    assert "<h1>登录</h1>" in again.get_data(as_text=True)
    back = client.get("/dashboard/login?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "<h1>Sign in</h1>" in back.get_data(as_text=True)


# words a page may show untranslated: the token's symbol and units of measure
ALLOWED = {"USDT", "ms", "UTC"}
_JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
_ATTRIBUTES = re.compile(r'\s(?:alt|title|aria-label|placeholder)="([^"{]*[A-Za-z][^"{]*)"')


@pytest.mark.parametrize("room", sorted(catalogs.ROOMS))
def test_templates_show_no_text_outside_the_catalog(room):
    """Text written straight into a template (not through _()) would never be translated."""
    found = []
    for path in sorted((catalogs.ROOMS[room] / "templates").rglob("*.html")):
        source = _JINJA.sub(" ", path.read_text())
        for match in _ATTRIBUTES.finditer(source):
            if not match.group(1).startswith(("https://", "payout.", "203.")):
                found.append(f"{path.name}: {match.group(1)}")
        text = re.sub(r"<[^>]+>", " ", source)
        words = {w for w in re.findall(r"[A-Za-z][A-Za-z']+", text)} - ALLOWED
        found += [f"{path.name}: {word}" for word in sorted(words)]
    assert found == []
