"""A long-running process freezes its start-up heap, so full collections skip it
(interfaces/composition/heap.py). Run in a child interpreter: freezing the test runner's own
heap would keep every later test's cycles."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.fast

PROBE = """
import gc, time
from interfaces.composition import heap
junk = [[[] for _ in range(50)] for _ in range(4000)]  # a start-up heap of ~200,000 objects
def full_collection_ms():
    t = time.perf_counter(); gc.collect(); return (time.perf_counter() - t) * 1000
before = min(full_collection_ms() for _ in range(3))
heap.settle()
after = min(full_collection_ms() for _ in range(3))
print(gc.get_freeze_count(), before, after)
"""


def test_settle_moves_the_start_up_heap_out_of_full_collections() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    frozen, before, after = int(out[0]), float(out[1]), float(out[2])
    assert frozen > 200_000
    assert after < before / 4  # the collector no longer walks what was frozen
