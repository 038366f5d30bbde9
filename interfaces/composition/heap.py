"""The heap of a long-running process, settled once it is built.

A process holds a few hundred thousand objects from its imports and its container (modules,
pydantic schemas, routes, mappers) that live as long as it does. Python's full collection walks
all of them, and it runs on whichever thread happens to allocate: in the realtime feed that was
one ~160 ms pause per benchmark run inside a log read, the whole of the feed's maximum latency
(docs/benchmarks.md). Freezing what exists at start-up moves it out of the collector's sight, so
a full collection walks only what the process made since; reference counting still frees frozen
objects as usual. Only the processes' entry points call this: a test building many containers
would keep their cycles for good.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then freeze every surviving object into the permanent generation."""
    gc.collect()
    gc.freeze()
