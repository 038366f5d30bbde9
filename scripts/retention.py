"""Operator tool: apply the chat retention policy once (what the schedule does every interval).

It nominates chats from the read models as the projector process has left them, so run it with
the projectors caught up; every chat is re-checked on its aggregate before it is touched.
"""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from interfaces.composition.bootstrap import bootstrap
from interfaces.composition.container import Container
from projections.chats import ChatsProjector
from projections.runtime import read_state


def run() -> int:
    try:
        container = bootstrap(run_projectors=False)
    except Exception as error:
        print(f"retention failed: cannot start: {error}", file=sys.stderr)
        return 1
    try:
        return _apply(container) if _read_model_ready(container) else 1
    except KeyboardInterrupt:
        print("interrupted: what was done stays done; rerun to finish", file=sys.stderr)
        return 130
    except Exception as error:
        print(f"retention failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        container.close()


def _apply(container: Container) -> int:
    settings, started = container.settings, time.perf_counter()
    with Progress(TextColumn("[bold]retention"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("chats"), TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task("retention", total=None)
        report = container.retention.run(
            time.time(), progress=lambda done, total: bar.update(task, completed=done,
                                                                 total=total))
        bar.update(task, total=max(report.nominated, 1), completed=max(report.nominated, 1))
    elapsed = time.perf_counter() - started
    print(f"retention: {report.trashed} chats moved to the trash (not updated for "
          f"{settings.CHAT_RETENTION_DAYS:g} days; 0 = off), {report.purged} purged (in the "
          f"trash over {settings.CHAT_TRASH_RETENTION_DAYS:g} days) in {elapsed:.2f} s")
    return 0


def _read_model_ready(container: Container) -> bool:
    """Chats are nominated from the read model: it must exist; lagging, it is only reported."""
    state = read_state(container.read_db, ChatsProjector.name)
    if state is None:
        print("retention failed: the chats read model is not built yet; start the server or "
              "`chronicle projector` first", file=sys.stderr)
        return False
    head = container.store.head()
    if int(state["position"]) < head:
        print(f"note: the chats read model is at position {state['position']} of {head}; "
              f"chats written since are considered on the next run", file=sys.stderr)
    return True


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("retention"))
