"""Events: list them, catch up after downtime, or follow the live stream (Server-Sent Events)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import requests

from gateway_client._http import Transport
from gateway_client.errors import APIConnectionError, GatewayError, ServerError
from gateway_client.types import Event, Page

PATH = "/api/v1/events"
# no byte for this long (the gateway sends a heartbeat every 15 s by default): a dead link
STREAM_READ_TIMEOUT = 60.0


def _stamp(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class Events:
    """``GET /api/v1/events`` and ``GET /api/v1/events/stream``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(
        self,
        *,
        type: str | Iterable[str] | None = None,
        order_id: str | None = None,
        created_gte: datetime | str | None = None,
        created_lt: datetime | str | None = None,
        direction: str = "desc",
        limit: int = 20,
        starting_after: str | None = None,
    ) -> Page[Event]:
        """One page of events, newest first (``direction="asc"``: oldest first)."""
        types = [type] if isinstance(type, str) else list(type or [])
        params: dict[str, Any] = {
            "type": types or None,
            "order_id": order_id,
            "created_gte": _stamp(created_gte),
            "created_lt": _stamp(created_lt),
            "direction": direction,
            "limit": limit,
            "starting_after": starting_after,
        }
        answer = self._t.json("GET", PATH, params=params)

        def following(last: str) -> Page[Event]:
            return self.list(
                type=types, order_id=order_id, created_gte=created_gte, created_lt=created_lt,
                direction=direction, limit=limit, starting_after=last,
            )  # fmt: skip

        return Page(answer["data"], answer["has_more"], following)

    def catch_up(self, after: str | None = None, **filters: Any) -> Iterator[Event]:
        """Every event after the event ``after`` (or the oldest kept), oldest first."""
        page = self.list(direction="asc", limit=100, starting_after=after, **filters)
        return page.auto_paging_iter()

    def stream(
        self,
        *,
        type: str | Iterable[str] | None = None,
        order_id: str | None = None,
        last_event_id: str | None = None,
        reconnect: bool = True,
    ) -> EventStream:
        """Follow events live; iterate the result. With ``last_event_id`` it resumes right
        after that event. It reconnects by itself (with Last-Event-ID) unless told not to."""
        types = [type] if isinstance(type, str) else list(type or [])
        params = {"type": types or None, "order_id": order_id}
        return EventStream(self._t, params, last_event_id, reconnect)


class EventStream:
    """An iterator of live events; ``last_event_id`` is the last one it gave you."""

    def __init__(
        self, transport: Transport, params: dict[str, Any], last: str | None, reconnect: bool
    ) -> None:
        self._t, self._params, self._reconnect = transport, params, reconnect
        self.last_event_id = last
        self._response: requests.Response | None = None
        self._closed = False

    def __iter__(self) -> Iterator[Event]:
        failures = 0
        while not self._closed:
            try:
                for event in self._once():
                    failures = 0
                    yield event
            except Exception as exc:
                if self._closed:
                    return  # close() from another thread breaks the read in any way
                if not isinstance(
                    exc, APIConnectionError | ServerError | requests.RequestException
                ):
                    raise
                failures += 1
                if not self._reconnect or failures > self._t.max_retries + 2:
                    if isinstance(exc, GatewayError):
                        raise
                    raise APIConnectionError(
                        f"the event stream broke: {type(exc).__name__}", code="connection_error"
                    ) from exc
                time.sleep(self._t.delay(failures))
                continue
            if not self._reconnect:
                return
            # the gateway ends every stream after a while: come back where we were

    def _once(self) -> Iterator[Event]:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        response = self._t.request(
            "GET",
            PATH + "/stream",
            params=self._params,
            headers=headers,
            stream=True,
            timeout=STREAM_READ_TIMEOUT,
        )
        self._response = response
        with response:
            for message in parse(response.iter_content(chunk_size=None)):
                if message.get("data") is None:
                    continue
                event = json.loads(message["data"])
                self.last_event_id = message.get("id") or event.get("id") or self.last_event_id
                yield event

    @property
    def connected(self) -> bool:
        """True once the gateway has answered: no event after that moment is missed."""
        return self._response is not None and not self._closed

    def close(self) -> None:
        """Hang up; iteration ends."""
        self._closed = True
        if self._response is not None:
            self._response.close()


def parse(chunks: Iterable[bytes]) -> Iterator[dict[str, str]]:
    """SSE messages (``id``, ``event``, ``data``) from the bytes of a stream, as they come.

    Comment lines (heartbeats) and ``retry:`` are skipped; a message ends at a blank line.
    """
    buffer, message = b"", {}
    for chunk in chunks:
        *lines, buffer = (buffer + chunk).split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode()
            if not line:
                if "data" in message:
                    yield message
                message = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    message["data"] = f"{message['data']}\n{value}" if "data" in message else value
                elif name in ("id", "event"):
                    message[name] = value
