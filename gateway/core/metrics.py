"""Prometheus metrics of every process: web, ``gateway watch`` and ``gateway worker``.

With ``PROMETHEUS_MULTIPROC_DIR`` set (as it must be under gunicorn with several workers)
each process writes its samples to files there, and the web's /metrics adds them up, so
every process of the host shows in one scrape. Gauges of the watcher keep the value of
live processes only. A dashboard for Grafana is beside this file (grafana.json).
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

from plugins.base import observe_requests

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ

PAYMENTS = Counter("gateway_payments", "Payments to orders recorded by the watcher.", ["chain"])
PAYMENT_AMOUNT = Counter(
    "gateway_payment_amount_usdt", "Amount of the payments recorded, in USDT.", ["chain"]
)
SCAN_LAG = Gauge(
    "gateway_scan_lag_blocks",
    "Blocks between the chain head and the last block the watcher scanned.",
    ["chain"],
    multiprocess_mode="livemax",
)
LAST_STEP = Gauge(
    "gateway_watcher_last_step_timestamp_seconds",
    "When the watcher of the chain last finished a step (Unix time).",
    ["chain"],
    multiprocess_mode="livemax",
)
NODE_REQUESTS = Counter(
    "gateway_node_requests",
    "Requests to the chain nodes, by method and outcome (ok, rate_limited, error).",
    ["chain", "method", "outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "gateway_webhook_attempts",
    "Webhook delivery attempts by outcome (2xx, 3xx, 4xx, 5xx, no_answer).",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "gateway_webhook_attempt_seconds",
    "Duration of webhook delivery attempts.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RATE_LIMITED = Counter("gateway_rate_limited", "API requests refused by the rate limit (429).")
QUOTA_REFUSED = Counter(
    "gateway_quota_refused", "Creations refused by a daily quota (429).", ["quota"]
)
HTTP_LATENCY = Histogram(
    "gateway_http_request_seconds",
    "Duration of HTTP requests, by route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def attempt_outcome(status_code: int | None) -> str:
    """The outcome label of a webhook attempt that got ``status_code`` (None: no answer)."""
    return "no_answer" if status_code is None else f"{status_code // 100}xx"


def _count_node_request(chain: str, method: str, outcome: str) -> None:
    NODE_REQUESTS.labels(chain, method, outcome).inc()


observe_requests(_count_node_request)


def process_exited(pid: int | None = None) -> None:
    """Drop a finished process's live gauges (gunicorn's child_exit, watch/worker at exit)."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def serve(port: int) -> None:
    """Serve this process's metrics on ``port`` (watch and worker on hosts without a web)."""
    if port:
        from prometheus_client import start_http_server

        start_http_server(port, addr="127.0.0.1")
