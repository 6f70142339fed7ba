"""The API's own flavour of flask-smorest: strict JSON in, one error schema out."""

from __future__ import annotations

import json
import math
from typing import Any

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from gateway.web.api.common import ApiErrorSchema
from gateway.web.errors import fail

JSON = "application/json"


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
            if req.mimetype or req.content_length:
                # a body the view cannot read: say which type it wants, not "Missing data"
                accept = {"POST": "Accept-Post", "PATCH": "Accept-Patch"}.get(req.method)
                fail(
                    415,
                    "unsupported_media_type",
                    f"send the body as application/json, not {req.mimetype or 'untyped'}",
                    headers={accept: JSON} if accept else None,
                )
            return core.missing
        try:
            return load_json(req.get_data(cache=True))
        except (ValueError, RecursionError) as exc:  # UnicodeError is a ValueError
            reason = str(exc) if isinstance(exc, _Refused) else "not valid JSON"
            fail(400, "invalid_json", f"the request body is not acceptable JSON: {reason}")


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest Blueprint that parses with StrictParser and strict JSON schemas."""

    ARGUMENTS_PARSER = StrictParser()

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any):
        """As flask-smorest's, but a JSON body schema takes booleans and integers only as
        JSON booleans and integers: ``0``, ``"yes"`` or ``"5"`` are 422, as documented."""
        if location == "json":
            schema = strict(schema() if isinstance(schema, type) else schema)
        return super().arguments(schema, location=location, **kwargs)


def strict(schema: ma.Schema) -> ma.Schema:
    """Make ``schema``'s own fields (and nested ones) refuse look-alike values."""
    for field in schema.fields.values():
        _strict_field(field)
    return schema


class JsonBoolean(ma.fields.Boolean):
    """true or false, nothing else (marshmallow's Boolean takes 1, "yes", "on"...)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class JsonInteger(ma.fields.Integer):
    """A JSON integer: not a string of digits, a float or a boolean."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


def _strict_field(field: ma.fields.Field) -> None:
    # the field keeps its settings and validators; only how it reads a value changes
    if isinstance(field, ma.fields.Boolean):
        field.__class__ = JsonBoolean
    elif isinstance(field, ma.fields.Integer):
        field.__class__ = JsonInteger
    elif isinstance(field, ma.fields.Nested):
        strict(field.schema)
    for inner in (getattr(field, "inner", None), getattr(field, "value_field", None)):
        if isinstance(inner, ma.fields.Field):
            _strict_field(inner)


class Api(flask_smorest.Api):
    """flask-smorest's Api documenting our error shape."""

    ERROR_SCHEMA = ApiErrorSchema
