"""The API's own flavour of flask-smorest: strict JSON in, one error schema out."""

from __future__ import annotations

import json
import math
from typing import Any

import flask_smorest
from flask import request
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from gateway.api.common import ApiErrorSchema
from gateway.errors import fail


class _Refused(ValueError):
    """A JSON value the gateway does not store."""


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused("numbers must be finite")
    return number


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _check_strings(value: Any) -> Any:
    """Refuse strings no database can hold: NUL characters and lone surrogates."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise _Refused("strings may not contain NUL characters")
            item.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def load_json(data: bytes) -> Any:
    """Parse a request body as strict JSON; ValueError when it is not acceptable."""
    return _check_strings(
        json.loads(data.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite)
    )


class StrictParser(FlaskParser):
    """webargs' parser, but NaN, Infinity, 5,000-digit numbers, NUL and lone surrogates
    are a 400 instead of reaching the database."""

    def _raw_load_json(self, req) -> Any:
        if not is_json_request(req):
            return core.missing
        try:
            return load_json(req.get_data(cache=True))
        except (ValueError, RecursionError) as exc:  # UnicodeError is a ValueError
            reason = str(exc) if isinstance(exc, _Refused) else "not valid JSON"
            fail(400, "invalid_json", f"the request body is not acceptable JSON: {reason}")


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest Blueprint that parses with StrictParser."""

    ARGUMENTS_PARSER = StrictParser()


class Api(flask_smorest.Api):
    """flask-smorest's Api documenting our error shape."""

    ERROR_SCHEMA = ApiErrorSchema


def refuse_nul() -> None:
    """Before each API request: NUL in the path, query or headers is a 400, never a 500."""
    if not request.path.startswith("/api/"):
        return
    values = [request.path, *request.args.keys(), *request.args.values(), *request.headers.values()]
    if any("\x00" in value for value in values):
        fail(400, "invalid_request", "NUL characters are not allowed in the URL or headers")
