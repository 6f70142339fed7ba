"""Logging: one JSON object per line in production, plain text for humans."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

#: The id of the request being served (web) or of the request that caused the event being
#: delivered (webhook job): every log record made meanwhile carries it as ``request_id``.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def _with_request_id(factory):
    def make(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        current = request_id.get()
        if current is not None:
            record.request_id = current
        return record

    make._gateway = True
    return make


def _install_record_factory() -> None:
    # a record factory, not a handler's filter: every handler sees the id, test captures too
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "_gateway", False):
        logging.setLogRecordFactory(_with_request_id(factory))


class JsonFormatter(logging.Formatter):
    """Formats a record and its ``extra`` fields as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send the gateway's logs to stderr in ``fmt`` ("text" or "json")."""
    _install_record_factory()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    # replace only our own handler, so test runners and embedding servers keep theirs
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_gateway", False)]
    handler._gateway = True
    root.addHandler(handler)
    for name in ("gateway", "plugins", "webhooks"):
        logging.getLogger(name).setLevel(level)
