"""Operator tool: erase a user's personal data everywhere (docs/erasure.md). Cannot be undone.

Runs the read-model projectors in this process too, so the erasure can wait for them (and scrub
the files) whether or not a server is running. Rerunning it on an erased user repeats the purge,
which finishes an erasure that stopped early.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from application.context import Actor, acting_as
from application.errors import ApplicationError
from interfaces.composition.bootstrap import bootstrap
from interfaces.composition.container import Container
from projections.registry import PROJECTORS


def run(user_id: str, yes: bool = False, ask: Callable[[str], str] = input) -> int:
    try:
        container = bootstrap(run_projectors=False)
    except Exception as error:
        print(f"erase-user failed: cannot start: {error}", file=sys.stderr)
        return 1
    try:
        if not yes and not _confirmed(user_id, ask):
            print("not erased", file=sys.stderr)
            return 1
        container.host.start([p.name for p in PROJECTORS])
        return _erase(container, user_id)
    except KeyboardInterrupt:
        print("interrupted: rerun to finish the erasure", file=sys.stderr)
        return 130
    finally:
        container.close()


def _confirmed(user_id: str, ask: Callable[[str], str]) -> bool:
    try:
        answer = ask(f"Erase user {user_id} and everything they own, for good? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _erase(container: Container, user_id: str) -> int:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        try:
            with acting_as(Actor.system("erase-user")):
                report = container.erasure.erase_as_operator(user_id, progress)
        except ApplicationError as error:
            print(f"erase-user failed: {error.detail}", file=sys.stderr)
            return 1
    deleted = ", ".join(f"{n} {kind}" for kind, n in report.deleted.items() if n) or "nothing"
    print(f"{report.user_id}: {'already erased' if report.already_erased else 'erased'};"
          f" deleted {deleted}; {report.blobs} blobs, {report.embeddings} embeddings,"
          f" {report.documents} document rows purged")
    if not report.complete:
        print("the read models have not applied the erasure yet, so the files were not "
              "scrubbed: rerun to finish", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("erase-user"))
