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
