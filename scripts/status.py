"""Operator tool: each projector's position, lag, health and last error, as JSON; exits 1 when
one has failed."""

from __future__ import annotations

import json
import sys

from interfaces.composition.bootstrap import bootstrap


def run() -> int:
    container = bootstrap(run_projectors=False)
    try:
        rows = container.host.status()
    finally:
        container.close()
    print(json.dumps(rows, indent=2))
    return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("status"))
