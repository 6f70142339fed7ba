"""The shop's own database (SQLite): its orders and the webhooks it has taken."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    items TEXT NOT NULL,
    total TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'awaiting_payment',
    gateway_order_id TEXT UNIQUE,
    created_at TEXT NOT NULL,
    paid_at TEXT
);
-- webhook-id of every message handled: deliveries are at least once
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    received_at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Store:
    """A thin layer over the shop's SQLite file; one connection per call."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def new_order(self, items: str, total: str) -> int:
        """A shop order awaiting payment; its id."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO orders (items, total, created_at) VALUES (?, ?, ?)",
                (items, total, _now()),
            )
            return int(cursor.lastrowid or 0)

    def link(self, order_id: int, gateway_order_id: str) -> None:
        """Remember the gateway's order for ours."""
        with self._connect() as db:
            db.execute(
                "UPDATE orders SET gateway_order_id = ? WHERE id = ?", (gateway_order_id, order_id)
            )

    def order(self, order_id: int) -> sqlite3.Row | None:
        """One shop order."""
        with self._connect() as db:
            return db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()

    def take_webhook(self, webhook_id: str, type_: str, gateway_order_id: str | None) -> bool:
        """Record a webhook once and apply it; False when it was handled before.

        One transaction: the webhook's id and its effect commit together, so a retry after
        a crash is either new (nothing was applied) or a duplicate (all of it was).
        """
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                seen = db.execute(
                    "INSERT OR IGNORE INTO webhooks (id, type, received_at) VALUES (?, ?, ?)",
                    (webhook_id, type_, _now()),
                ).rowcount
                if seen and type_ == "order.paid" and gateway_order_id:
                    # idempotent on its own too: a paid order stays paid once, at its first time
                    db.execute(
                        "UPDATE orders SET status = 'paid', paid_at = ?"
                        " WHERE gateway_order_id = ? AND status != 'paid'",
                        (_now(), gateway_order_id),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return bool(seen)
