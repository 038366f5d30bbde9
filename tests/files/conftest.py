"""One installation per backend for the files suite. PostgreSQL runs the production shape with a
real `chronicle worker` process consuming the Redis queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.files.stack import Stack, stack


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Stack]:
    backend = str(request.param)
    with stack(backend, tmp_path_factory.mktemp(f"files-{backend}"), worker="process") as built:
        yield built
