"""One error shape for every API answer: ``{code, status, message, errors}``."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An HTTP error with a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = status
        self.error_code = code
        self.message = message
        self.errors = errors or {}
        self.extra_headers = headers or {}


def fail(
    status: int,
    code: str,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> NoReturn:
    """Stop the request with a JSON error."""
    raise ApiError(status, code, message, errors, headers)


def field_error(field: str, message: str, code: str = "validation_error") -> NoReturn:
    """A 422 naming the field at fault."""
    fail(422, code, f"{field}: {message}", {field: [message]})


def init_app(app: Flask) -> None:
    """Answer every HTTP error, and any crash, as JSON."""
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(Exception, _handle_crash)


def _handle_http(exc: HTTPException):
    status = exc.code or 500
    if isinstance(exc, ApiError):
        return _body(status, exc.error_code, exc.message, exc.errors, exc.extra_headers)
    errors: dict[str, Any] = {}
    message = exc.description or ""
    code = DEFAULT_CODES.get(status, "error")
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # webargs puts errors under the location they came from; clients want the fields
        errors = messages.get("json", messages) if isinstance(messages, dict) else {}
        if status == 400 and errors == ["Invalid JSON body."]:
            return _body(400, "invalid_json", "the request body is not valid JSON", {})
        if isinstance(errors, dict) and errors:
            first = next(iter(errors))
            message = f"invalid input: {first}"
    return _body(status, code, message, errors if isinstance(errors, dict) else {})


def _handle_crash(exc: Exception):
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    log.exception("unhandled error")
    return _body(500, "internal_error", InternalServerError.description, {})


def _body(
    status: int,
    code: str,
    message: str,
    errors: dict[str, Any],
    headers: dict[str, str] | None = None,
):
    response = jsonify(code=code, status=status, message=message, errors=errors)
    response.status_code = status
    response.headers.update(headers or {})
    return response
