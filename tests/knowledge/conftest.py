"""One installation per backend for the knowledge suite (PostgreSQL: Dramatiq on Redis, consumed
by a worker thread)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.files.stack import Stack, allow_knowledge, stack


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Stack]:
    backend = str(request.param)
    with stack(backend, tmp_path_factory.mktemp(f"knowledge-{backend}")) as built:
        allow_knowledge(built)
        yield built
