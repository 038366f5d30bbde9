"""The composition root: a port passed to bootstrap() is the one every use case gets, and the rest
is built as in production; the default job queue runs jobs against the container it belongs to."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from infrastructure.file_storage import LocalFileStorage
from infrastructure.sessions import MemorySessions
from interfaces.composition.bootstrap import bootstrap
from tests.conftest import backend_env, make_settings


class Jobs:
    """A queue that only records: nothing runs."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.closed = False

    def enqueue(self, name: str, *, delay: float = 0.0, **kwargs: Any) -> None:
        self.sent.append((name, kwargs))

    def depth(self) -> dict[str, int]:
        return {"test": len(self.sent)}

    def close(self) -> None:
        self.closed = True


def test_swapped_ports_reach_the_use_cases(tmp_path: Path) -> None:
    jobs, sessions = Jobs(), MemorySessions()
    storage = LocalFileStorage(tmp_path / "elsewhere")
    container = bootstrap(make_settings(backend_env("sqlite", tmp_path)), run_projectors=False,
                          jobs=jobs, sessions=sessions, file_storage=storage, clock=lambda: 42.0)
    try:
        assert container.jobs is jobs and container.sessions is sessions
        assert container.files.jobs is jobs and container.retrieval.jobs is jobs
        assert container.auth.sessions is sessions
        assert container.files.storage is storage and container.retrieval.storage is storage
        assert container.chats.clock() == 42.0 and container.erasure.clock() == 42.0
        assert container.retrieval.index is container.vector_index
    finally:
        container.close()
    assert jobs.closed


def test_default_jobs_run_against_their_container(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    container = bootstrap(make_settings(backend_env("sqlite", tmp_path)), run_projectors=True)
    try:
        with caplog.at_level(logging.INFO, logger="chronicle.jobs"):
            container.jobs.enqueue("retention")
            assert container.jobs.idle(10)  # type: ignore[attr-defined]
        assert [r.message for r in caplog.records] == ["retention applied"]
    finally:
        container.close()
