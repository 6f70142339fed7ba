"""One results table for every benchmark: ``make bench`` writes ``bench/results.md``.

Each benchmark module saves its rows with :func:`save` (a JSON file beside this one);
:func:`write` joins them into one Markdown table with the machine described, so the table
shows today's figures side by side whatever order the benchmarks ran in.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"


@dataclass(frozen=True)
class Row:
    """One measured figure against its baseline and goal."""

    figure: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    met: bool

    @classmethod
    def at_least(cls, figure: str, ours: str, baseline: str, ratio: float, goal: float) -> Row:
        """A row whose goal is a ratio of at least ``goal``."""
        return cls(figure, ours, baseline, f"{ratio:.2f}", f">= {goal}", ratio >= goal)


def save(bench: str, rows: list[Row]) -> None:
    """Keep ``bench``'s rows for the next :func:`write`."""
    (HERE / f".{bench}.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))


def machine() -> str:
    """The machine the figures come from, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    try:
        postgres = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        postgres = "PostgreSQL: unknown"
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}, {postgres}"
    )


def write(order: list[str]) -> None:
    """Join the saved rows of the benchmarks named in ``order`` into ``results.md``."""
    lines = [
        "# Benchmark results",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` on {machine()}.",
        "Each figure is measured beside its baseline in the same run; see each bench module's",
        "docstring for what exactly is timed or counted.",
        "",
        "| figure | ours | baseline | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
    ]
    for bench in order:
        path = HERE / f".{bench}.json"
        if not path.exists():
            lines.append(f"| {bench}: not run | | | | | |")
            continue
        for row in json.loads(path.read_text()):
            met = "yes" if row["met"] else "**no**"
            lines.append(
                f"| {row['figure']} | {row['ours']} | {row['baseline']} | {row['ratio']}"
                f" | {row['goal']} | {met} |"
            )
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    write(
        sys.argv[1:]
        or ["scan_cost", "order_create", "latency", "webhooks_sqlite", "webhooks_postgresql"]
    )
