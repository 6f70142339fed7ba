"""Durations written for people: "5s 5m 30m 2h" (bare numbers are seconds)."""

from __future__ import annotations

import re

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_STEP = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


def parse_delays(text: str) -> list[float]:
    """Seconds of each step of ``"5s 5m 2h"``; ValueError naming the first bad one."""
    delays = []
    for step in text.replace(",", " ").split():
        match = _STEP.match(step.strip().lower())
        if match is None:
            raise ValueError(f"bad delay {step!r} (use e.g. 5s, 30m, 2h)")
        delays.append(float(match.group(1)) * _UNITS[match.group(2)])
    return delays
