"""Requests refused before any view runs: NUL characters anywhere in the URL or headers."""

from __future__ import annotations

from flask import Flask, request

from gateway.web.errors import fail


def init_app(app: Flask) -> None:
    """Run the checks first, before every request of every route (public pages included)."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul)


def refuse_nul() -> None:
    """NUL in the path, query or headers is a 400, never a 500.

    No database can hold it (PostgreSQL refuses it in any string), and Werkzeug decodes
    ``%00`` in a path or query. Pages answer the 400 in their own format: their blueprint's
    error handler renders it.
    """
    values = [request.path, *request.args.keys(), *request.args.values(), *request.headers.values()]
    if any("\x00" in value for value in values):
        fail(400, "invalid_request", "NUL characters are not allowed in the URL or headers")
