"""Languages of the pages people read (checkout and dashboard): English and Simplified
Chinese, chosen by a remembered switch or else by Accept-Language. Amounts and dates are
formatted for the language. The JSON API stays in English."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, request
from flask_babel import Babel, format_date, format_datetime, format_decimal, get_locale

ENGLISH, CHINESE = "en", "zh_Hans_CN"
#: language code -> its own name, as the switch shows it
LANGUAGES = {ENGLISH: "English", CHINESE: "简体中文"}
COOKIE = "lang"
WEB = Path(__file__).parent
CATALOGS = [WEB / "checkout" / "translations", WEB / "dashboard" / "translations"]
AMOUNT_FORMAT = "#,##0.##################"  # grouping, and every decimal the token has


def init_app(app: Flask) -> None:
    """Set up Flask-Babel with both rooms' catalogs, the switch and the format filters."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(path) for path in CATALOGS)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    Babel(app, locale_selector=select_locale)
    app.after_request(_remember)
    app.jinja_env.filters.update(money=money, when=when, day=day)
    app.jinja_env.globals.update(languages=LANGUAGES, language_url=language_url, lang=lang)


def select_locale() -> str:
    """The ?lang= of this request, else the remembered choice, else Accept-Language."""
    chosen = request.args.get(COOKIE) or request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for value, _quality in request.accept_languages:
        tag = value.lower().replace("_", "-")
        if tag.startswith("zh"):
            return CHINESE
        if tag.startswith("en"):
            return ENGLISH
    return ENGLISH


def lang() -> str:
    """The language of this request (its code)."""
    return CHINESE if str(get_locale()) == CHINESE else ENGLISH


def language_url(code: str) -> str:
    """This page in another language (the choice is remembered in a cookie)."""
    args = {**request.args.to_dict(), COOKIE: code}
    return f"{request.path}?{urlencode(args)}"


def _remember(response: Response) -> Response:
    chosen = request.args.get(COOKIE)
    if chosen in LANGUAGES and request.cookies.get(COOKIE) != chosen:
        secure = request.is_secure
        response.set_cookie(
            COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True, secure=secure
        )
    return response


def money(value: str | Decimal | int | None) -> str:
    """An amount (a decimal string or Decimal) grouped for the language, all decimals kept."""
    if value is None or value == "":
        return ""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return format_decimal(number, format=AMOUNT_FORMAT)


def when(moment: datetime | None) -> str:
    """A date and time in the language's medium format (UTC)."""
    return "" if moment is None else format_datetime(moment, "medium")


def day(moment: date | datetime | None) -> str:
    """A date in the language's medium format."""
    return "" if moment is None else format_date(moment, "medium")
