"""One HTTP exchange with the API: auth, Idempotency-Keys, retries with backoff, errors."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

import requests

from gateway_client.errors import APIConnectionError, GatewayError, from_answer

USER_AGENT = "gateway-client-python/0.1"
# answers worth asking again: the request was refused for now, or may not have happened
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


class Transport:
    """Sends requests to ``base_url`` with the key, and retries what is worth retrying."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.session = session or requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        )

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """How long to wait before retry number ``attempt`` (1, 2, ...)."""
        if hint is not None:
            return min(hint, self.max_backoff)
        # full jitter: clients that failed together do not come back together
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | None = None,
    ) -> requests.Response:
        """The answer to one call, after retries; a GatewayError for an error answer."""
        sent = dict(headers or {})
        if method == "POST":
            # one key for every retry of this call: a retry never makes a second object
            sent["Idempotency-Key"] = idempotency_key or f"gwc-{uuid.uuid4()}"
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=_query(params),
                    json=json,
                    headers=sent,
                    timeout=timeout or self.timeout,
                    stream=stream,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise APIConnectionError(
                        f"could not reach the gateway: {type(exc).__name__}",
                        code="connection_error",
                    ) from exc
                time.sleep(self.delay(attempt))
                continue
            if response.status_code < 400:
                return response
            error = _error(response)
            attempt += 1
            if response.status_code not in RETRY_STATUSES or attempt > self.max_retries:
                raise error
            time.sleep(self.delay(attempt, error.retry_after))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON answer of a call (None for 204)."""
        response = self.request(method, path, **kwargs)
        return None if response.status_code == 204 or not response.content else response.json()


def _query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _error(response: requests.Response) -> GatewayError:
    try:
        body = response.json()
    except ValueError:
        body = None
    response.close()
    return from_answer(
        response.status_code,
        body,
        response.headers.get("X-Request-ID"),
        retry_after(response.headers.get("Retry-After")),
    )
