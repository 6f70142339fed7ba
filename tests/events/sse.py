"""A raw Server-Sent Events reader for the tests: a thread reads, the test takes messages."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class Message:
    """One SSE message (or a comment, with ``comment`` set)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SseReader:
    """Opens ``url`` at once; ``status`` and ``headers`` are known when this returns."""

    url: str
    headers: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.messages: queue.Queue[Message | None] = queue.Queue()
        self.comments: list[str] = []
        self.response = requests.get(
            self.url, headers=self.headers, params=self.params, stream=True, timeout=30
        )
        self.status = self.response.status_code
        self.ended = threading.Event()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        current = Message()
        try:
            for raw in self.response.iter_lines(chunk_size=None, decode_unicode=True):
                line = raw.rstrip("\r")
                if not line:
                    if current.data or current.id:
                        self.messages.put(current)
                    current = Message()
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        current.data = f"{current.data}\n{value}" if current.data else value
                    elif name in ("id", "event"):
                        setattr(current, name, value)
        except (requests.RequestException, OSError, AttributeError):
            pass
        finally:
            self.ended.set()
            self.messages.put(None)

    def next(self, timeout: float = 10.0) -> Message:
        """The next message; fails after ``timeout``."""
        message = self.messages.get(timeout=timeout)
        assert message is not None, "the stream ended"
        return message

    def take(self, count: int, timeout: float = 10.0) -> list[Message]:
        """The next ``count`` messages."""
        deadline = time.monotonic() + timeout
        return [self.next(max(0.1, deadline - time.monotonic())) for _ in range(count)]

    def quiet(self, seconds: float) -> bool:
        """True when no message comes within ``seconds``."""
        try:
            message = self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        self.messages.put(message)
        return False

    def close(self) -> None:
        """Hang up."""
        self.response.close()
