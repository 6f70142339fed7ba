"""The translation catalogs: extracted from the code and templates with Babel, kept as .po
files in git, compiled to .mo by `make` (setup and test) or ``python -m
gateway.web.catalogs compile``; the tests compile them too, and check that every message
of every template and view is translated."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

WEB = Path(__file__).parent
#: room -> its translations directory
ROOMS = {"checkout": WEB / "checkout", "dashboard": WEB / "dashboard"}
LOCALES = ("zh_Hans_CN",)
DOMAIN = "messages"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def po_path(room: str, locale: str) -> Path:
    """Where a room's catalog of ``locale`` lives."""
    return ROOMS[room] / "translations" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract(room: str) -> Catalog:
    """Every message the room's templates and Python code ask to translate."""
    catalog = Catalog(project="usdt-gateway", domain=DOMAIN)
    found = extract_from_dir(
        str(ROOMS[room]),
        METHODS,
        keywords=KEYWORDS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}},
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read(room: str, locale: str) -> Catalog:
    """A room's catalog of ``locale`` as committed."""
    with po_path(room, locale).open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def update() -> None:
    """Merge newly extracted messages into the .po files (translations kept)."""
    for room in ROOMS:
        template = extract(room)
        for locale in LOCALES:
            path = po_path(room, locale)
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = read(room, locale) if path.exists() else Catalog(locale=locale)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.fuzzy = False
            with path.open("wb") as handle:
                write_po(handle, catalog, width=100, omit_header=False, sort_output=True)


def compile_all() -> list[Path]:
    """Write each .mo beside its .po when missing or older; the paths written."""
    written = []
    for room in ROOMS:
        for locale in LOCALES:
            source = po_path(room, locale)
            target = source.with_suffix(".mo")
            if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
                continue
            with target.open("wb") as handle:
                write_mo(handle, read(room, locale), use_fuzzy=False)
            written.append(target)
    return written


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "compile"
    if command == "update":
        update()
    else:
        compile_all()
