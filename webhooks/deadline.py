"""A total deadline per delivery attempt, whatever the receiver does.

A socket timeout bounds each read, not the attempt: a receiver trickling one byte every
tenth of a second would hold a worker for as long as it likes. The attempt's sockets are
registered here as they are used; when the deadline passes they are shut down, the blocked
read returns, and the attempt ends as "no answer in time".
"""

from __future__ import annotations

import contextlib
import socket
import threading

_current = threading.local()


class Deadline:
    """``with Deadline(seconds):`` around one attempt on this thread."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _current.deadline = None

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def watch(sock: socket.socket) -> None:
    """Put ``sock`` under this thread's current attempt deadline, if there is one."""
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)
