"""One installation per backend for the retrieval suite (PostgreSQL: Dramatiq on Redis, consumed
by a worker thread), and a counter of what reaches the embedding model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.files.stack import Stack, allow_knowledge, stack


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Stack]:
    backend = str(request.param)
    with stack(backend, tmp_path_factory.mktemp(f"retrieval-{backend}")) as built:
        allow_knowledge(built)
        yield built


class Counting:
    """The real embedder of a spec, counting the texts that actually reach it."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.texts: list[str] = []

    @property
    def model_id(self) -> str:
        return str(self.inner.model_id)

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.fixture
def counting(world: Stack, monkeypatch: pytest.MonkeyPatch) -> Counting:
    from application.retrieval import RetrievalService

    retrieval = world.container.retrieval
    spec = retrieval.active_spec()
    counter = Counting(retrieval.embedder(spec))
    monkeypatch.setitem(RetrievalService._embedders, RetrievalService.embedder_key(spec), counter)
    return counter
