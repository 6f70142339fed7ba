"""HTTP politeness shared by the drivers and the webhook sender: Retry-After and backoff."""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime

import requests


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value asks for at ``now``: delay seconds or an HTTP date.

    None when absent or unreadable; a date in the past is 0.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" dates: HTTP dates are always UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after(response: requests.Response | None) -> float | None:
    """Seconds the ``Retry-After`` header of ``response`` asks for, or None."""
    if response is None:
        return None
    return parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))


def backoff(attempt: int, base: float, cap: float, floor: float = 0.0) -> float:
    """A jittered exponential wait before retry ``attempt``: never under ``floor`` or over ``cap``.

    The jitter keeps clients that failed together from coming back together.
    """
    return min(cap, max(floor, base * 2 ** min(attempt, 16) * random.uniform(0.5, 1.5)))
