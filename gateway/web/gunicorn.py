"""gunicorn settings hooks: ``gunicorn -c python:gateway.web.gunicorn ...``.

With several workers, a worker that exits must drop its live gauges from the shared
PROMETHEUS_MULTIPROC_DIR, or /metrics would keep showing a dead process's values.
"""

from __future__ import annotations

from typing import Any

from gateway.core import metrics


def child_exit(_server: Any, worker: Any) -> None:
    """gunicorn calls this in the master when a worker has exited."""
    metrics.process_exited(worker.pid)
