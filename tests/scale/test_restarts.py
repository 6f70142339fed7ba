"""The processes outlive their services: a watcher through a database cut, a worker through
Redis being away when it starts. Both used to end (found by the scale-out test)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import sqlalchemy as sa

from gateway.core.db import make_engine
from gateway.core.models import ChainCursor
from gateway.core.watcher import Watcher
from plugins.evm.driver import EvmDriver
from tests.support.databases import POSTGRES_URL
from tests.webhooks.support import free_port


def cut_connections(name: str) -> int:
    """Terminate this test's database sessions, as a PostgreSQL restart does."""
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        cut = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name"
            ),
            {"name": name},
        ).all()
    admin.dispose()
    return len(cut)


def test_a_watcher_keeps_watching_after_the_database_cut_its_connections(
    postgres_schema, devnet, evm_snapshot, wait_for
):
    postgres_schema.empty()
    name = f"gw-watch-{uuid.uuid4().hex[:10]}"
    engine = make_engine(f"{postgres_schema.url}&application_name={name}")
    sessions = sa.orm.sessionmaker(engine, expire_on_commit=False)
    driver = EvmDriver(
        "devnet",
        {"rpc_url": devnet.rpc_url, "chain_id": 31337, "token": devnet.usdt, "confirmations": 3},
    )
    watcher = Watcher("devnet", driver, sessions, timedelta(hours=1), owner="cut")
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop, 0.05), daemon=True)

    reader = make_engine(postgres_schema.url)  # the test's own reads, which the cut spares
    readers = sa.orm.sessionmaker(reader)

    def scanned() -> int:
        with readers() as session:
            cursor = session.get(ChainCursor, "devnet")
            return -1 if cursor is None else cursor.next_block

    thread.start()
    try:
        wait_for(lambda: scanned() > 0, timeout=20)
        assert cut_connections(name) > 0
        head = devnet.mine(3)
        wait_for(lambda: scanned() > head, timeout=30)  # it went on after the cut
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)
        engine.dispose()
        reader.dispose()


def test_a_worker_started_while_redis_is_away_waits_for_it(tmp_path, wait_for):
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'g.db'}",
        "GATEWAY_REDIS__URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
    }
    env.pop("GATEWAY_CONFIG", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        wait_for(lambda: log.read_text().count("redis unavailable") >= 2, timeout=60)
        assert process.poll() is None, log.read_text()[-2000:]
    finally:
        process.terminate()
        process.wait(timeout=20)
