"""HTTP helpers shared by drivers that talk to nodes over HTTP."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC

import requests


def retry_after(response: requests.Response | None) -> float | None:
    """Seconds a Retry-After header asks for (seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip() if response is not None else ""
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
    return max(0.0, when.timestamp() - time.time())
