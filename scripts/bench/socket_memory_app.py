"""The served app (`interfaces.asgi:app`) with a memory probe, for scripts/bench/socket_memory.py.

uvicorn serves it exactly as the real app; SIGUSR1 writes RSS, the Socket.IO per-socket state
sizes, gc object counts and (with SOCKMEM_TRACE=1) tracemalloc's view to SOCKMEM_OUT;
SIGUSR2 first calls glibc's malloc_trim(0), to see how much of RSS is the allocator's free pool.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import tracemalloc
from pathlib import Path
from typing import Any

if os.environ.get("SOCKMEM_TRACE") == "1":
    tracemalloc.start(5)

from interfaces.asgi import app  # noqa: E402

OUT = Path(os.environ.get("SOCKMEM_OUT", "/tmp/sockmem.json"))
_baseline: list[Any] = []


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _traced() -> dict[str, Any]:
    if not tracemalloc.is_tracing():
        return {}
    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    if not _baseline:
        _baseline.append(snapshot)
    top = snapshot.compare_to(_baseline[0], "lineno")[:8]
    return {"traced_kib": current // 1024, "traced_peak_kib": peak // 1024,
            "top_growth": [f"{s.size_diff // 1024:+} KiB {s.count_diff:+} {s.traceback}"
                           for s in top]}


def dump(trim: bool) -> None:
    gc.collect()
    before = rss_kib()
    if trim:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    realtime = app.realtime
    OUT.write_text(json.dumps({
        "rss_kib": rss_kib(), "rss_before_trim_kib": before, "gc_objects": len(gc.get_objects()),
        "state": realtime.state_sizes(), **_traced()}))


signal.signal(signal.SIGUSR1, lambda *_: dump(False))
signal.signal(signal.SIGUSR2, lambda *_: dump(True))
