"""Live news of events across processes, through Redis: who wrote, who is waiting, how many.

The database stays the record. Redis pub/sub only carries a hint, "merchant M has new
events", published after the writing transaction commits; a stream that hears it reads
the feed again. A hint lost while Redis is away only delays a stream until its next
periodic read, so nothing here may fail a commit or a request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from redis import Redis, RedisError
from sqlalchemy.orm import Session, sessionmaker

from gateway.core.events import WRITTEN

log = logging.getLogger(__name__)

CHANNEL = "gateway:events"
# after a failed publish, the next ones are skipped this long: a Redis outage must not add
# a connect timeout to every commit that writes an event
BACKOFF_SECONDS = 5.0


class Announcer:
    """Publishes the merchants whose events a session's transaction committed."""

    def __init__(self, redis_url: str) -> None:
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._quiet_until = 0.0

    def install(self, sessions: sessionmaker[Session]) -> None:
        """Announce after each commit of a session made by ``sessions``."""
        sa.event.listen(sessions, "after_commit", self._after_commit)
        sa.event.listen(sessions, "after_rollback", _forget)

    def _after_commit(self, session: Session) -> None:
        merchants = session.info.pop(WRITTEN, None)
        if merchants:
            self.publish(merchants)

    def publish(self, merchants: Iterable[str]) -> None:
        """Tell every listening process that these merchants have new events."""
        if time.monotonic() < self._quiet_until:
            return
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for merchant_id in merchants:
                    pipe.publish(CHANNEL, merchant_id)
                pipe.execute()
        except RedisError as exc:
            self._quiet_until = time.monotonic() + BACKOFF_SECONDS
            log.warning("event announcement skipped, redis unavailable: %s", type(exc).__name__)


def _forget(session: Session) -> None:
    session.info.pop(WRITTEN, None)


class Waiter:
    """One stream's wake-up call: set when its merchant has news (or the hub reconnected)."""

    def __init__(self, hub: Hub, merchant_id: str) -> None:
        self.hub, self.merchant_id = hub, merchant_id
        self.flag = threading.Event()

    def wait(self, timeout: float) -> bool:
        """Block until news or ``timeout``; True on news. Clears the flag for the next wait."""
        woke = self.flag.wait(max(0.0, timeout))
        self.flag.clear()
        return woke

    def close(self) -> None:
        """Stop listening."""
        self.hub.forget(self)


class Hub:
    """This process's one subscription to the event channel, fanned out to its streams."""

    _hubs: dict[tuple[int, str], Hub] = {}
    _lock = threading.Lock()

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.connected = False
        self._waiters: dict[str, set[Waiter]] = {}
        self._mutex = threading.Lock()
        self._thread = threading.Thread(target=self._listen, name="event-hub", daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, redis_url: str) -> Hub:
        """The hub of this process for ``redis_url``, started on first use (after a fork too)."""
        key = (os.getpid(), redis_url)
        with cls._lock:
            if key not in cls._hubs:
                cls._hubs[key] = cls(redis_url)
            return cls._hubs[key]

    def waiter(self, merchant_id: str) -> Waiter:
        """A wake-up call for news of ``merchant_id``."""
        waiter = Waiter(self, merchant_id)
        with self._mutex:
            self._waiters.setdefault(merchant_id, set()).add(waiter)
        return waiter

    def forget(self, waiter: Waiter) -> None:
        """Stop waking ``waiter``."""
        with self._mutex:
            waiting = self._waiters.get(waiter.merchant_id, set())
            waiting.discard(waiter)
            if not waiting:
                self._waiters.pop(waiter.merchant_id, None)

    def _wake(self, merchant_id: str | None) -> None:
        with self._mutex:
            if merchant_id is None:
                chosen = [w for waiting in self._waiters.values() for w in waiting]
            else:
                chosen = list(self._waiters.get(merchant_id, ()))
        for waiter in chosen:
            waiter.flag.set()

    def _listen(self) -> None:
        while True:
            try:
                client = Redis.from_url(
                    self.redis_url,
                    socket_connect_timeout=2,
                    socket_timeout=30,
                    health_check_interval=10,
                )
                with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(CHANNEL)
                    self.connected = True
                    self._wake(None)  # news may have been missed while away
                    while True:
                        message = pubsub.get_message(timeout=10)
                        if message is not None:
                            self._wake(_text(message["data"]))
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning("event hub lost redis, streams poll meanwhile: %s", exc)
                self.connected = False
                time.sleep(1.0)


def _text(data: Any) -> str:
    return data.decode() if isinstance(data, bytes) else str(data)


# Atomic take of a slot: drop slots whose holder stopped renewing (a killed worker),
# then add ours if fewer than the cap remain. Scores are expiry times on Redis's clock.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
"""
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1])) + 1)
end
return 1
"""


class Slots:
    """Caps how many streams one holder (an API key, an order) has open across processes."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)

    def take(self, holder: str, cap: int, ttl: float) -> str | None:
        """A slot for ``holder`` lasting ``ttl`` seconds unless renewed, or None at the cap.

        Raises RedisError when Redis is unavailable: the cap cannot be kept then.
        """
        token = uuid.uuid4().hex
        taken = self._take(keys=[_key(holder)], args=[cap, ttl, token])
        return token if taken else None

    def renew(self, holder: str, token: str, ttl: float) -> None:
        """Keep the slot ``ttl`` seconds more; a Redis error is left to the next renewal."""
        with contextlib.suppress(RedisError):
            self._renew(keys=[_key(holder)], args=[ttl, token])

    def release(self, holder: str, token: str) -> None:
        """Give the slot back (its expiry frees it anyway if this fails)."""
        with contextlib.suppress(RedisError):
            self.redis.zrem(_key(holder), token)


def _key(holder: str) -> str:
    return f"gateway:streams:{holder}"
