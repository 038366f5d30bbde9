"""Operator tool: rebuild read models from the log into fresh tables, then swap them in.

`--all` reads and decodes the log once for every read model. Before each swap the new tables
are compared with live at the same position; drift does not stop the swap (the log is the
truth) but is reported as a warning. Safe to interrupt and rerun: each shadow generation keeps
its position and the run resumes there. `--check-only` replays into scratch tables and compares
with live without swapping (exit 1 on drift).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from interfaces.composition.bootstrap import bootstrap
from projections.compare import Comparison


def say(message: str) -> None:
    """Messages for the operator go to stderr, unwrapped (stdout carries results)."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def progress_bar(label: str, total: int, console: Console | None = None
                 ) -> Iterator[Callable[[int], None]]:
    """A bar over log positions (on stderr: stdout carries results); yields `advance(position)`."""
    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("events"), TimeElapsedColumn(),
                  console=console or Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=max(total, 1))
        yield lambda position: bar.update(task, completed=min(position, max(total, 1)))
        bar.update(task, completed=max(total, 1))


def run(name: str | None, check_only: bool = False) -> int:
    container = bootstrap(run_projectors=False)
    try:
        host = container.host
        names = [name] if name else list(host.classes)
        unknown = [n for n in names if n not in host.classes]
        if unknown:
            print(f"unknown projector(s): {', '.join(unknown)}; known: "
                  f"{', '.join(host.classes)}", file=sys.stderr)
            return 2
        feeds = [n for n in names if n in getattr(host, "feed_names", ())]
        models = [n for n in names if n not in feeds]
        head = container.store.head()
        if check_only:
            return _check_only(host, models, head)
        for feed in feeds:
            host.rebuild(feed)
            print(f"{feed}: a feed has no tables; it resumes from the log head ({head})")
        return _rebuild(host, models, head)
    except KeyboardInterrupt:
        print("interrupted: rerun to resume from where it stopped", file=sys.stderr)
        return 130
    finally:
        container.close()


def _rebuild(host: Any, names: Sequence[str], head: int) -> int:
    if not names:
        return 0
    read = [0]

    def advance(count: int, position: int) -> None:
        read[0] = count
        bar(position)

    started = time.perf_counter()
    with progress_bar(names[0] if len(names) == 1 else "rebuild", head) as bar:
        results = host.rebuild_many(names, progress=advance)
    elapsed = time.perf_counter() - started
    for result in results:
        rate = result.applied / elapsed if elapsed else 0.0
        print(f"{result.name}: {result.applied} events applied in {elapsed:.2f} s "
              f"({rate:,.0f} events/s)")
        if result.comparison is not None:
            report(result.comparison)
    if len(names) > 1:
        rate = read[0] / elapsed if elapsed else 0.0
        print(f"{read[0]} events read once for {len(names)} read models in {elapsed:.2f} s "
              f"({rate:,.0f} events/s)")
    return 0


def _check_only(host: Any, names: Sequence[str], head: int) -> int:
    with progress_bar("check", head) as bar:
        comparisons = host.check_only(names, progress=lambda _, position: bar(position))
    for comparison in comparisons:
        report(comparison)
    return 0 if all(c.agrees for c in comparisons) else 1


def report(comparison: Comparison) -> None:
    """One line per read model; drift goes to stderr as a warning, with sample rows."""
    if comparison.agrees:
        print(f"  {comparison.summary()}")
        return
    print(f"WARNING: {comparison.summary()}", file=sys.stderr)
    for table in comparison.tables:
        for sample in table.samples:
            print(f"  {table.table} only in {sample['side']}: {sample['row']}", file=sys.stderr)


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("rebuild"))
