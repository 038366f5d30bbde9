"""The background jobs, by name, and how a queue runs one against its process's container.

A job is called as `fn(container, **kwargs)`. Every job must be idempotent (infrastructure.jobs):
a queue may deliver one twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from interfaces.composition.container import Container

log = logging.getLogger("chronicle.jobs")


def process_file(container: Container, file_id: str, attempt: int = 0) -> None:
    outcome, _ = container.files.process(file_id, attempt)
    log.info("file processed", extra={"file_id": file_id, "outcome": outcome, "attempt": attempt})


def collect_blobs(container: Container, digests: list[str], attempt: int = 0) -> None:
    container.files.collect(digests, attempt)


def switch_embedding_model(container: Container, target: dict[str, Any], attempt: int = 0) -> None:
    outcome = container.retrieval.switch_model(target, attempt)
    log.info("embedding model switch", extra={"outcome": outcome, "attempt": attempt})


def apply_retention(container: Container) -> None:
    report = container.retention.run(container.clock())
    log.info("retention applied", extra={"trashed": report.trashed, "purged": report.purged})


JOBS: dict[str, Callable[..., None]] = {
    "files.process": process_file,
    "files.collect": collect_blobs,
    "retrieval.switch_model": switch_embedding_model,
    "retention": apply_retention,
}


def run_job(container: Callable[[], Container], name: str, kwargs: dict[str, Any]) -> None:
    """The queue's `run`: `container` is called only when a job runs, since the queue is built
    before the container that holds it (the worker's container is built on its first job)."""
    fn = JOBS.get(name)
    if fn is None:
        log.error("unknown job", extra={"job": name})
        return
    fn(container(), **kwargs)
