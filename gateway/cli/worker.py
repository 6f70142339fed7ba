"""``gateway worker``: an RQ worker for webhook deliveries plus the outbox dispatcher.

One process does everything a deployment needs for webhooks: a thread turns new
events into deliveries and re-enqueues due ones (the database is the schedule), and
the main thread runs RQ jobs. Start as many as the load needs, on any machines.
"""

from __future__ import annotations

import logging
import threading
import time

import click
import redis
from rq import SimpleWorker, Worker

from gateway.core import config as gateway_config
from gateway.core import idempotency, logs, metrics
from webhooks import jobs as _jobs  # noqa: F401  (loaded now, not by the first job)
from webhooks import outbox, retention, runtime

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 600.0  # seconds; retention is counted in hours


def dispatch_once() -> int:
    """One outbox pass in this process (for tests and scripts): deliveries created."""
    return outbox.run_once(runtime.current())


def housekeeping(rt: runtime.Runtime) -> int:
    """Delete what has outlived its retention (idempotent answers, events); rows deleted."""
    with rt.sessions.begin() as session:
        purged = idempotency.purge(session)
    if purged:
        log.info("purged %s idempotency keys older than %s", purged, idempotency.RETENTION)
    days, events = rt.events["retention_days"], 0
    while True:  # in batches: one transaction never holds thousands of rows' locks
        with rt.sessions.begin() as session:
            deleted = retention.purge_events(session, days)
        events += deleted
        if deleted < retention.BATCH:
            break
    if events:
        log.info("purged %s events older than %s days", events, days)
    return purged + events


def _dispatcher(rt: runtime.Runtime, stop: threading.Event) -> None:
    interval = rt.settings["dispatch_interval"]
    next_housekeeping = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_housekeeping:
            next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY
            try:
                housekeeping(rt)
            except Exception:
                log.exception("housekeeping pass failed")
        try:
            created = outbox.run_once(rt)
        except Exception:
            # a database hiccup must not end the loop; the next pass retries
            log.exception("webhook dispatch pass failed")
            created = 0
        if created < outbox.BATCH:
            stop.wait(interval)


class _StopAware:
    """Remembers a SIGTERM/SIGINT, which RQ turns into an ordinary return from work()."""

    stop_requested = False

    def handle_warm_shutdown_request(self) -> None:
        self.stop_requested = True
        super().handle_warm_shutdown_request()


class InProcessWorker(_StopAware, SimpleWorker):
    """Runs each job in the worker process: pooled connections are reused."""


class ForkingWorker(_StopAware, Worker):
    """Runs each job in a forked work horse, isolated from the worker."""


WorkerClass = type[InProcessWorker] | type[ForkingWorker]


def _make_worker(
    worker_class: WorkerClass, rt: runtime.Runtime, queues: list[str]
) -> InProcessWorker | ForkingWorker:
    connection = runtime.redis_client(rt.redis_url, blocking=True)
    worker = worker_class(queues, connection=connection)
    # come back quickly after a Redis outage instead of backing off for a minute
    worker.max_connection_wait_time = 2.0
    return worker


def _serve(worker_class: WorkerClass, rt: runtime.Runtime, queues: list[str]) -> None:
    while True:
        worker = None
        try:
            # making the worker already talks to Redis (CLIENT SETNAME): inside the retry
            worker = _make_worker(worker_class, rt, queues)
            worker.work(with_scheduler=True, logging_level="WARNING")
        except redis.ConnectionError as exc:
            log.warning("redis unavailable, the worker retries: %s", exc)
        if worker is not None and worker.stop_requested:
            return
        # the RQ loop gives up when Redis goes away mid-job; the outbox keeps the work safe
        time.sleep(1.0)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--queue", "queues", multiple=True, help="Queue to serve (repeatable).")
@click.option(
    "--fork/--no-fork",
    default=False,
    show_default=True,
    help="Run each job in a forked work horse (isolation) or in this process (speed).",
)
def worker(burst: bool, queues: tuple[str, ...], fork: bool) -> None:
    """Deliver webhooks: dispatch the outbox and run the delivery jobs."""
    try:
        config = gateway_config.load()
    except gateway_config.ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    logs.configure(config["server"]["log_format"])
    rt = runtime.configure(config)
    names = list(queues) or [rt.settings["queue"]]
    worker_class = ForkingWorker if fork else InProcessWorker
    if burst:
        while True:
            created = dispatch_once()
            worked = _make_worker(worker_class, rt, names).work(burst=True, logging_level="WARNING")
            if not worked and not created:
                return
    metrics.serve(config["ops"]["metrics_port"])
    log.info(
        "gateway worker: delivering webhooks from queue %s (%s jobs), dispatching the outbox"
        " every %ss, purging idempotency keys older than %s; database %s",
        ", ".join(names),
        "forked" if fork else "in-process",
        rt.settings["dispatch_interval"],
        idempotency.RETENTION,
        rt.engine.dialect.name,  # never the URL: it may hold a password
    )
    stop = threading.Event()
    thread = threading.Thread(target=_dispatcher, args=(rt, stop), name="dispatcher", daemon=True)
    thread.start()
    try:
        _serve(worker_class, rt, names)
    finally:
        stop.set()
        metrics.process_exited()


if __name__ == "__main__":
    worker()
