"""Logging: one JSON object per line in production, plain text for humans."""

from __future__ import annotations

import json
import logging
import sys

from flask import Flask

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


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


def init_app(app: Flask) -> None:
    """Configure logging from ``[server] log_format``."""
    configure(app.config["GATEWAY"]["server"]["log_format"])
