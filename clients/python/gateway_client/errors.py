"""Exceptions: every API error carries the API's stable ``code``."""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """An error answer of the API: ``code`` (stable), ``status``, ``message``, ``errors``."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: int | None = None,
        errors: dict[str, Any] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status
        self.errors = errors or {}
        self.request_id, self.retry_after = request_id, retry_after

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class InvalidRequestError(GatewayError):
    """400, 415, 422: the input is wrong; ``errors`` names the fields."""


class AuthenticationError(GatewayError):
    """401: the key is missing, wrong, revoked or expired."""


class PermissionDeniedError(GatewayError):
    """403: the key lacks a scope, or may not be used from this address."""


class NotFoundError(GatewayError):
    """404: no such object (or not this merchant's)."""


class ConflictError(GatewayError):
    """409: the object's state forbids it, or an Idempotency-Key was reused differently."""


class RateLimitError(GatewayError):
    """429: too many requests (or streams); retried for you until the retries run out."""


class ServerError(GatewayError):
    """5xx: the gateway or a node behind it failed; retried for you first."""


class APIConnectionError(GatewayError):
    """The gateway could not be reached, or did not answer in time."""


class WebhookVerificationError(Exception):
    """A webhook's signature or timestamp does not verify: reject the request."""


_BY_STATUS = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def from_answer(
    status: int, body: Any, request_id: str | None, retry_after: float | None
) -> GatewayError:
    """The exception for an error answer with ``body`` (the API's JSON error, if it is one)."""
    body = body if isinstance(body, dict) else {}
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else GatewayError)
    return kind(
        str(body.get("message") or f"HTTP {status}"),
        code=str(body.get("code") or f"http_{status}"),
        status=status,
        errors=body.get("errors"),
        request_id=request_id,
        retry_after=retry_after,
    )
