"""The retry schedule: first try now, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.

That is about three days in all. Each delay gets some jitter so that an endpoint that
comes back is not hit by every queued delivery in the same second.
"""

from __future__ import annotations

import random

from gateway.core.durations import parse_delays

DEFAULT = "5s 5m 30m 2h 5h 10h 14h 20h 24h"
JITTER = 0.1
# a receiver may ask for a pause, but not for one longer than our longest step
MAX_RETRY_AFTER = 24 * 3600


def parse(text: str) -> list[float]:
    """Delays in seconds from ``"5s 5m 2h"`` (bare numbers are seconds); ValueError if bad."""
    return parse_delays(text)


def next_delay(
    attempts_done: int, delays: list[float], retry_after: float | None = None
) -> float | None:
    """Seconds until the next try after ``attempts_done`` tries, or None when none is left."""
    if attempts_done < 1 or attempts_done > len(delays):
        return None
    delay = delays[attempts_done - 1]
    delay *= 1 + random.uniform(-JITTER, JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
