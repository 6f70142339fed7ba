"""The chain tips the overview compares the watchers with. Asking a node can take seconds,
so a page never waits for it: it shows the last tip known, and a stale one is refreshed in
the background for the next view."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from plugins.base import ChainDriver

log = logging.getLogger(__name__)

FRESH_SECONDS = 30.0


class Tips:
    """Last known tip number of each chain, with when it was learnt."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._refreshing = False
        self._checked = 0.0

    def known(self, drivers: Mapping[str, ChainDriver]) -> dict[str, tuple[int, float]]:
        """The tips known now; starts a refresh when they are older than FRESH_SECONDS."""
        with self._lock:
            stale = time.monotonic() - self._checked > FRESH_SECONDS
            if stale and not self._refreshing and drivers:
                self._refreshing = True
                threading.Thread(
                    target=self._refresh, args=(dict(drivers),), daemon=True, name="tips"
                ).start()
            return dict(self._known)

    def _refresh(self, drivers: dict[str, ChainDriver]) -> None:
        try:
            for name, driver in drivers.items():
                try:
                    number = driver.tip().number
                except Exception as exc:  # a node down must not break the overview
                    log.info("tip of %s unknown: %s", name, type(exc).__name__)
                    continue
                with self._lock:
                    self._known[name] = (number, time.time())
        finally:
            with self._lock:
                self._refreshing = False
                self._checked = time.monotonic()
