"""A PostgreSQL cluster and a redis-server of the test's own, which it may stop and restart.

The machine's own PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) serve other
people's tests at the same time: the scale-out test never touches them. It runs `initdb`
and `pg_ctl` on a throwaway data directory on a free port (as the ``postgres`` user when
the test runs as root, since initdb refuses root), and a redis-server without persistence.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.webhooks.support import RedisServer, free_port

__all__ = ["PostgresCluster", "RedisServer", "postgres_binaries"]


def postgres_binaries() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres of one installation, or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for directory in [*reversed(candidates), "/usr/local/pgsql/bin"]:
        if all((Path(directory) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        # pg_ctl starts the postgres binary that sits beside its real path
        return Path(os.path.realpath(found)).parent
    return None


class PostgresCluster:
    """``initdb`` + ``pg_ctl`` on a temporary directory: start, restart, stop, remove."""

    def __init__(self, binaries: Path, settings: dict[str, str] | None = None) -> None:
        self.bin = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="gw-scale-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.settings = settings or {}
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses root; the data directory must belong to the server's user
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``gateway`` database (trust authentication)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/gateway"

    def _run(self, *command: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [*self._as, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}): "
                f"{result.stdout[-1500:]}{result.stderr[-1500:]}\n{self.log_tail()}"
            )
        return result.stdout

    def init(self) -> None:
        """Create the cluster, configure it (port, socket, settings) and the database."""
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        lines = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            # a throwaway cluster on a machine shared with other tests
            "fsync": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            **self.settings,
        }
        # appended to postgresql.conf, so that `pg_ctl restart` keeps them
        text = "".join(f"{key} = {value}\n" for key, value in lines.items())
        config = self.data / "postgresql.conf"
        self._run("sh", "-c", f"cat >> '{config}' <<'EOF'\n{text}EOF")
        self.start()
        self._run(
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qc",
            "CREATE DATABASE gateway",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start"
        )

    def restart(self) -> float:
        """``pg_ctl restart -m fast`` (connections are cut); seconds it took."""
        started = time.monotonic()
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-m",
            "fast",
            "-w",
            "restart",
        )
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop the server if it runs (immediate: nothing here is kept)."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self._as,
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )

    def remove(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log (for failure messages)."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
