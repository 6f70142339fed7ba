"""One error shape for every API answer: ``{code, status, message, errors}``."""

from __future__ import annotations

import json
import logging
from typing import Any, NoReturn

from flask import Flask, jsonify
from sqlalchemy import exc as sa_exc
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

# Seconds a client is told to wait when the database cannot be reached (a restart, a
# failover): long enough for a restart to finish, short enough not to lose a checkout.
DATABASE_RETRY_AFTER = 2


class ApiError(HTTPException):
    """An HTTP error with a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = status
        self.error_code = code
        self.message = message
        self.errors = errors or {}
        self.extra_headers = headers or {}
        self.extra = extra or {}


def fail(
    status: int,
    code: str,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> NoReturn:
    """Stop the request with a JSON error; ``extra`` adds documented fields (``reset_at``)."""
    raise ApiError(status, code, message, errors, headers, extra)


def field_error(field: str, message: str, code: str = "validation_error") -> NoReturn:
    """A 422 naming the field at fault."""
    fail(422, code, f"{field}: {message}", {field: [message]})


def init_app(app: Flask) -> None:
    """Answer every HTTP error, and any crash, as JSON."""
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(sa_exc.DBAPIError, _handle_database)
    app.register_error_handler(sa_exc.DisconnectionError, _handle_database)
    app.register_error_handler(Exception, _handle_crash)


def _handle_http(exc: HTTPException):
    status = exc.code or 500
    if isinstance(exc, ApiError):
        response = _body(status, exc.error_code, exc.message, exc.errors, exc.extra_headers)
        if exc.extra:
            response.set_data(json.dumps({**response.get_json(), **exc.extra}))
        return response
    # what the exception says beside its body: Allow on a 405, WWW-Authenticate on a 401
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
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
    return _body(status, code, message, errors if isinstance(errors, dict) else {}, headers)


def _handle_database(exc: Exception):
    """The database is unreachable or cut the connection: 503 with Retry-After, not 500.

    OperationalError is what the driver raises for a refused or dropped connection, a
    server shutting down or starting up (and for deadlocks and cancelled statements, which
    a retry also resolves); any other driver error counts when SQLAlchemy saw it cut the
    connection. The request's transaction was not committed, or its commit's outcome is
    unknown: a retry with the same Idempotency-Key answers either way. Anything else from
    the driver is a bug, answered 500 as any crash.
    """
    unavailable = isinstance(exc, (sa_exc.OperationalError, sa_exc.DisconnectionError)) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )
    if not unavailable:
        return _handle_crash(exc)
    # one line, no traceback and no statement: a restart makes many of them
    log.warning("database unavailable, answered 503: %s", type(getattr(exc, "orig", exc)).__name__)
    return _body(
        503,
        "database_unavailable",
        "the database cannot be reached right now; retry after a moment",
        {},
        {"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


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
