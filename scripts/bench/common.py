"""Shared pieces of the benchmarks: a fresh database, percentiles, JSON output."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(prefix: str = "chronicle_bench") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="chronicle-bench-"))


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"n": len(ordered), "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99),
            "mean": statistics.fmean(ordered), "max": ordered[-1]}


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2, default=lambda v: round(v, 3) if isinstance(v, float)
                     else str(v)))


class CpuMeter:
    """CPU seconds each process (and all PostgreSQL and Redis server processes) used over a run,
    as cores busy on average: where the machine's two cores went."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self.before = self._sample()

    def _sample(self) -> dict[str, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        names = {pid: name for name, pid in self.pids.items()}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            seconds = (int(fields[11]) + int(fields[12])) / ticks
            name = names.get(int(entry.name)) or ("postgres" if comm.startswith("postgres")
                                                 else "redis" if comm.startswith("redis") else None)
            if name is not None:
                used[name] = used.get(name, 0.0) + seconds
        return used

    def seconds(self) -> dict[str, float]:
        """CPU seconds used since the meter was made, busiest first."""
        after = self._sample()
        return {name: round(after[name] - self.before.get(name, 0.0), 2)
                for name in sorted(after, key=lambda n: self.before.get(n, 0.0) - after[n])}

    def shares(self, elapsed: float) -> dict[str, float]:
        return {name: round(used / elapsed, 2) for name, used in self.seconds().items()}
