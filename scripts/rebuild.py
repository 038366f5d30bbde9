"""Operator tool: rebuild read models from the log into fresh tables, then swap them in.

Safe to interrupt and rerun: the shadow generation keeps its position and the run resumes there.
"""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infrastructure.bootstrap import bootstrap


def run(name: str | None) -> int:
    container = bootstrap(run_projectors=False)
    try:
        names = [name] if name else list(container.host.classes)
        unknown = [n for n in names if n not in container.host.classes]
        if unknown:
            print(f"unknown projector(s): {', '.join(unknown)}; known: "
                  f"{', '.join(container.host.classes)}", file=sys.stderr)
            return 2
        head = container.store.head()
        for projector in names:
            _rebuild_one(container, projector, head)
        return 0
    except KeyboardInterrupt:
        print("interrupted: rerun to resume from where it stopped", file=sys.stderr)
        return 130
    finally:
        container.close()


def _rebuild_one(container: object, name: str, head: int) -> None:
    host = container.host  # type: ignore[attr-defined]
    started = time.perf_counter()
    with Progress(TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("events"), TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task(name, total=max(head, 1))
        applied = host.rebuild(name, progress=lambda n, pos: bar.update(task, completed=pos))
        bar.update(task, completed=max(head, 1))
    elapsed = time.perf_counter() - started
    rate = applied / elapsed if elapsed else 0.0
    print(f"{name}: {applied} events applied in {elapsed:.2f} s ({rate:,.0f} events/s)")
