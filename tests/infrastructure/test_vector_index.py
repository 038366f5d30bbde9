from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from infrastructure.vector_index import MANIFEST, VectorIndex

DIM = 384


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def index() -> VectorIndex:
    idx = VectorIndex(DIM)
    idx.add("file-a", np.arange(100, 200), unit_vectors(100))
    idx.add("kb-1", [7, 8], unit_vectors(2, seed=1))
    return idx


def test_search_returns_exact_ids_and_cosine_scores(index: VectorIndex) -> None:
    vectors = unit_vectors(100)
    hits = index.search("file-a", vectors[[5, 42]], k=3)
    assert [h[0][0] for h in hits] == [105, 142]
    assert hits[0][0][1] == pytest.approx(1.0, abs=1e-5)
    assert hits[0][0][1] >= hits[0][1][1] >= hits[0][2][1]
    brute = vectors @ vectors[5]
    assert [i for i, _ in hits[0]] == [100 + int(i) for i in np.argsort(-brute)[:3]]


def test_collections_are_isolated_and_k_is_capped(index: VectorIndex) -> None:
    hits = index.search("kb-1", unit_vectors(1), k=10)
    assert {i for i, _ in hits[0]} == {7, 8}
    assert index.search("missing", unit_vectors(2), k=5) == [[], []]


def test_remove_and_drop(index: VectorIndex) -> None:
    vectors = unit_vectors(100)
    assert index.remove("file-a", [105, 999]) == 1
    assert 105 not in [i for i, _ in index.search("file-a", vectors[[5]], k=100)[0]]
    assert index.count("file-a") == 99
    assert index.remove("missing", [1]) == 0
    index.drop("kb-1")
    assert index.collections() == ["file-a"]


def test_re_adding_an_id_replaces_it(index: VectorIndex) -> None:
    replacement = unit_vectors(1, seed=9)
    index.add("file-a", [100], replacement)
    assert index.count("file-a") == 100
    assert index.search("file-a", replacement, k=1)[0][0][0] == 100
    with pytest.raises(ValueError):
        index.add("file-a", [1, 1], unit_vectors(2))
    with pytest.raises(ValueError):
        index.add("file-a", [1, 2], unit_vectors(1))


def test_save_load_reload_and_add(index: VectorIndex, tmp_path) -> None:
    queries = unit_vectors(100)[[3, 60]]
    before = index.search("file-a", queries, k=5)
    index.save(tmp_path, position=41)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["position"] == 41 and set(manifest["collections"]) == {"file-a", "kb-1"}

    restored = VectorIndex(DIM)
    assert restored.load(tmp_path) == 41
    after = restored.search("file-a", queries, k=5)
    assert [[i for i, _ in row] for row in after] == [[i for i, _ in row] for row in before]

    extra = unit_vectors(1, seed=5)
    restored.add("file-a", [500], extra)
    restored.remove("kb-1", [7])
    assert restored.search("file-a", extra, k=1)[0][0][0] == 500
    restored.save(tmp_path, position=42)
    again = VectorIndex(DIM)
    assert again.load(tmp_path) == 42
    assert again.count("file-a") == 101 and again.count("kb-1") == 1
    assert not list(tmp_path.glob("*.tmp"))
    assert len(list(tmp_path.glob("*.faiss"))) == 2  # files of position 41 were cleaned up


def test_unchanged_collections_are_not_rewritten(index: VectorIndex, tmp_path) -> None:
    index.save(tmp_path, position=1)
    index.add("kb-1", [9], unit_vectors(1, seed=3))
    index.save(tmp_path, position=2)
    files = json.loads((tmp_path / MANIFEST).read_text())["collections"]
    assert files["file-a"].endswith("-1.faiss") and files["kb-1"].endswith("-2.faiss")


def test_dropped_collection_disappears_from_disk(index: VectorIndex, tmp_path) -> None:
    index.save(tmp_path, position=1)
    index.drop("kb-1")
    index.save(tmp_path, position=2)
    restored = VectorIndex(DIM)
    restored.load(tmp_path)
    assert restored.collections() == ["file-a"]
    assert len(list(tmp_path.glob("*.faiss"))) == 1


def test_load_of_empty_directory_starts_from_zero(tmp_path) -> None:
    idx = VectorIndex(DIM)
    assert idx.load(tmp_path) == 0 and idx.collections() == []


def test_concurrent_adds_and_searches(tmp_path) -> None:
    idx = VectorIndex(DIM)
    vectors = unit_vectors(400)
    errors: list[Exception] = []

    def writer(offset: int) -> None:
        try:
            for i in range(offset, 400, 4):
                idx.add("c", [i], vectors[[i]])
                idx.search("c", vectors[[i]], k=3)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    idx.save(tmp_path, position=1)
    for t in threads:
        t.join()
    assert not errors and idx.count("c") == 400
