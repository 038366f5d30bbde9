"""Retries that never succeed end in a failed status with a readable error.

In-process jobs only (SQLite): on PostgreSQL the retries run in the `chronicle worker` process,
where the fault cannot be injected; the retry policy is the same code in both shapes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.files.stack import Stack, stack


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack("sqlite", tmp_path_factory.mktemp("files-retries"), worker="process") as built:
        yield built


def test_retries_end_in_failure(world: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    user, files, retrieval = world.people.user, world.container.files, world.container.retrieval

    def down(texts: list[str]) -> str:
        raise RuntimeError("embedding endpoint unreachable")

    monkeypatch.setattr(retrieval, "embed_chunks", down)
    monkeypatch.setattr(files, "retry_base", 0.01)
    file_id = world.upload(user, "down.txt", "Never embedded.")["id"]
    status = world.wait_status(user, file_id)
    assert status == {"status": "failed",
                      "error": "embedding failed: embedding endpoint unreachable"}
    names = [type(e).__name__ for e in world.container.store.app.repository.event_store.get(
        files.aggregate(file_id).id)]
    assert names.count("ProcessingRetried") == 4 and names[-1] == "ProcessingFailed"
