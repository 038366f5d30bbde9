"""The vector index as a projection: exact vectors per collection, the embedding cache, persistence
under DATA_DIR, rebuilds from the log, and switching the embedding model without a half-switched
index. Real model, real FAISS; PostgreSQL jobs run on Dramatiq over Redis."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from application.auth import Principal
from tests.conftest import backend_env, drop_pg_database, make_settings
from tests.files.stack import Stack
from tests.retrieval.conftest import Counting

KB_API = "/api/v1/knowledge"
DOCS = {
    "astronomy.txt": "Jupiter is the largest planet. Its great red spot is a giant storm.",
    "cooking.txt": "Knead the dough for ten minutes, then let the bread rise overnight.",
    "sailing.txt": "Trim the mainsail and tack upwind when the breeze picks up.",
}


def knowledge_base(world: Stack, owner: Any, name: str, file_ids: list[str]) -> str:
    r = world.client.post(f"{KB_API}/create", json={"name": name, "description": ""},
                          headers=owner.headers)
    assert r.status_code == 200, r.text
    kb = str(r.json()["id"])
    for file_id in file_ids:
        r = world.client.post(f"{KB_API}/{kb}/file/add", json={"file_id": file_id},
                              headers=owner.headers)
        assert r.status_code == 200, r.text
    return kb


def test_queries_find_the_right_chunk(world: Stack) -> None:
    owner = world.fresh("Reader")
    ids = {name: world.processed(owner, name, text) for name, text in DOCS.items()}
    kb = knowledge_base(world, owner, "Hobbies", list(ids.values()))
    retrieval = world.container.retrieval
    for question, name in [("How big is Jupiter?", "astronomy.txt"),
                           ("How long should I knead bread?", "cooking.txt"),
                           ("What to do with the sail in the wind?", "sailing.txt")]:
        hits = retrieval.query([kb], question, 3)
        assert hits[0].file_id == ids[name] and hits[0].text == DOCS[name], question
        assert hits[0].score > hits[1].score
        assert retrieval.query([f"file-{ids[name]}"], question, 3)[0].file_id == ids[name]
    both = retrieval.query([kb, f"file-{ids['cooking.txt']}"], "bread dough", 5)
    assert len({h.chunk_id for h in both}) == len(both) == 3  # one chunk found twice counts once
    assert retrieval.query(["no-such-collection"], "bread", 3) == []
    assert retrieval.query([kb], "   ", 3) == []


def test_removal_removes_exactly_that_files_vectors(world: Stack) -> None:
    owner = world.fresh("Pruner")
    text = "\n\n".join(f"Paragraph {i} describes the {w} in detail." for i, w in
                       enumerate(["harbour", "lighthouse", "cliffs", "dunes", "reef"]))
    big = world.processed(owner, "coast.txt", text * 8)
    small = world.processed(owner, "inland.txt", "Forests and rivers far from the sea.")
    kb = knowledge_base(world, owner, "Geography", [big, small])
    mirror, files = world.container.retrieval.index, world.container.files
    big_chunks = len(files.aggregate(big).chunks)
    assert big_chunks > 1
    world.container.retrieval.query([kb], "sea", 1)  # brings the mirror up to date
    assert mirror.count(kb) == big_chunks + 1
    assert mirror.count(f"file-{big}") == big_chunks
    r = world.client.post(f"{KB_API}/{kb}/file/remove", json={"file_id": big},
                          params={"delete_file": "false"}, headers=owner.headers)
    assert r.status_code == 200
    hits = world.container.retrieval.query([kb], "harbour lighthouse", 10)
    assert [h.file_id for h in hits] == [small]
    assert mirror.count(kb) == 1 and mirror.count(f"file-{big}") == big_chunks


def test_unchanged_text_is_never_embedded_again(world: Stack, counting: Counting) -> None:
    owner = world.fresh("Cacher")
    text = "Quantum computers use qubits that can be in superposition."
    world.processed(owner, "q1.txt", text)
    assert counting.texts == [text]
    world.processed(owner, "q2.txt", text)  # another file, same text: all from the cache
    third = world.processed(owner, "q3.txt", text + "\n\nEntanglement links qubits.")
    assert counting.texts == [text, text + "\n\nEntanglement links qubits."]
    counting.texts.clear()
    r = world.client.post(f"/api/v1/files/{third}/data/content/update", json={"content": text},
                          headers=owner.headers)
    assert r.status_code == 200 and counting.texts == []  # re-indexed, not re-embedded


def test_rebuild_from_the_log_reuses_the_cache(world: Stack, counting: Counting) -> None:
    owner = world.fresh("Rebuilder")
    file_id = world.processed(owner, "rebuild.txt", "Glaciers carve valleys over millennia.")
    kb = knowledge_base(world, owner, "Ice", [file_id])
    retrieval, mirror = world.container.retrieval, world.container.retrieval.index
    before = [(h.file_id, h.chunk_id) for h in retrieval.query([kb], "glaciers", 3)]
    counting.texts.clear()
    reloads, generation = mirror.reloads, mirror.generation
    applied = world.container.host.rebuild("retrieval_index")
    assert applied > 0
    after = [(h.file_id, h.chunk_id) for h in retrieval.query([kb], "glaciers", 3)]
    assert after == before
    assert mirror.reloads == reloads + 1 and mirror.generation != generation
    assert counting.texts == ["glaciers"]  # only the query: no chunk was embedded again


# -- persistence ---------------------------------------------------------------------------------
@contextmanager
def installation(backend: str, tmp: Path, **env: str) -> Iterator[dict[str, str]]:
    values = {**backend_env(backend, tmp), **env}
    try:
        yield values
    finally:
        if "DATABASE_URL" in values:
            drop_pg_database(values["DATABASE_URL"])


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_index_is_saved_and_caught_up_on_start(backend: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from application.retrieval import RetrievalService
    from interfaces.composition.bootstrap import bootstrap

    with installation(backend, tmp_path, CHRONICLE_JOBS="embedded") as env:
        user = Principal(id=str(uuid.uuid4()), role="user", via="session")

        def upload(container: Any, name: str, text: str) -> str:
            outcome = container.files.upload(user, name, "text/plain", [text.encode()], None,
                                             process=True, background=False)
            assert outcome.value.status == "completed"
            return str(outcome.value.file_id)

        first = bootstrap(make_settings(env))
        try:
            a = upload(first, "a.txt", "Volcanic islands form over hot spots.")
            b = upload(first, "b.txt", "Coral reefs need warm shallow water.")
            assert first.retrieval.query([f"file-{a}"], "islands", 1)[0].file_id == a
            mirror = first.retrieval.index
            position = mirror.position
            spec = RetrievalService.embedder_key(first.retrieval.active_spec())
        finally:
            first.close()  # the index is saved on stop, with the position it covers
        manifest = json.loads((tmp_path / "vector_index" / "manifest.json").read_text())
        assert manifest["position"] == position > 0

        counter = Counting(RetrievalService._embedders[spec])
        monkeypatch.setitem(RetrievalService._embedders, spec, counter)
        second = bootstrap(make_settings(env))
        try:
            mirror = second.retrieval.index
            _wait(lambda: mirror.position >= position)
            assert mirror.reloads == 0 and mirror.saved_position == position  # loaded, not rebuilt
            assert mirror.count(f"file-{a}") == mirror.count(f"file-{b}") == 1
            c = upload(second, "c.txt", "Deserts receive little rain.")  # caught up from there
            hits = second.retrieval.query([f"file-{a}", f"file-{b}", f"file-{c}"], "rain", 3)
            assert hits[0].file_id == c and {h.file_id for h in hits} == {a, b, c}
            assert counter.texts == ["Deserts receive little rain.", "rain"]
        finally:
            second.close()


def test_chronicle_rebuild_rebuilds_the_index_from_the_cache(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`chronicle rebuild retrieval_index` (its own process) replays the log into a new read-model
    generation; the next start rebuilds FAISS from it with cached vectors: nothing re-embedded."""
    import os
    import subprocess
    import sys

    from application.retrieval import RetrievalService
    from interfaces.composition.bootstrap import bootstrap

    with installation("sqlite", tmp_path, CHRONICLE_JOBS="embedded") as env:
        user = Principal(id=str(uuid.uuid4()), role="user", via="session")
        first = bootstrap(make_settings(env))
        try:
            ids = [first.files.upload(user, f"{i}.txt", "text/plain", [text.encode()], None,
                                      process=True, background=False).value.file_id
                   for i, text in enumerate(DOCS.values())]
            before = [h.file_id for h in first.retrieval.query([f"file-{i}" for i in ids],
                                                               "sailing upwind", 3)]
            spec = RetrievalService.embedder_key(first.retrieval.active_spec())
        finally:
            first.close()
        done = subprocess.run([str(Path(sys.executable).parent / "chronicle"), "rebuild",
                               "retrieval_index"], env={**os.environ, **env}, cwd=Path.cwd(),
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-2000:]

        counter = Counting(RetrievalService._embedders[spec])
        monkeypatch.setitem(RetrievalService._embedders, spec, counter)
        second = bootstrap(make_settings(env))
        try:
            mirror = second.retrieval.index
            after = [h.file_id for h in second.retrieval.query([f"file-{i}" for i in ids],
                                                               "sailing upwind", 3)]
            assert after == before and mirror.generation == 2 and mirror.reloads == 1
            assert counter.texts == ["sailing upwind"]
        finally:
            second.close()


# -- switching the embedding model -----------------------------------------------------------------
class FakeOpenAI:
    """An OpenAI-compatible /embeddings endpoint serving the real local model's vectors, under
    another model name (so the switch must re-embed everything)."""

    def __init__(self, model: Any):
        self.model = model
        self.texts: list[str] = []
        self.fail = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if fake.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                fake.texts.extend(body["input"])
                vectors = fake.model.embed(list(body["input"]))
                data = {"data": [{"index": i, "embedding": v.tolist()}
                                 for i, v in enumerate(vectors)]}
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def embedding(world: Stack) -> dict[str, Any]:
    return dict(world.client.get("/api/v1/retrieval/embedding",
                                 headers=world.people.admin.headers).json())


def switch(world: Stack, engine: str, model: str, url: str = "") -> dict[str, Any]:
    form: dict[str, Any] = {"RAG_EMBEDDING_ENGINE": engine, "RAG_EMBEDDING_MODEL": model}
    if url:
        form["openai_config"] = {"url": url, "key": "sk-test"}
    r = world.client.post("/api/v1/retrieval/embedding/update", json=form,
                          headers=world.people.admin.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_switching_the_model_reembeds_then_swaps(world: Stack) -> None:
    owner = world.fresh("Switcher")
    retrieval = world.container.retrieval
    ids = {name: world.processed(owner, name, text) for name, text in DOCS.items()}
    kb = knowledge_base(world, owner, "Switch", list(ids.values()))
    local = retrieval.active_model()
    fake = FakeOpenAI(retrieval.embedder(retrieval.active_spec()))
    try:
        body = switch(world, "openai", "fake-minilm", fake.url)
        assert body["RAG_EMBEDDING_MODEL"] == "fake-minilm"
        assert body["active"]["model_id"] == local  # the old model serves until the switch
        # queries keep working (on the old model) while the job re-embeds
        assert retrieval.query([kb], "bread dough", 1)[0].file_id == ids["cooking.txt"]
        _wait(lambda: embedding(world)["switch"]["state"] == "ready", 60)
        assert embedding(world)["active"]["model_id"] == "openai:fake-minilm"
        assert set(DOCS.values()) <= set(fake.texts)
        hits = retrieval.query([kb], "bread dough", 1)
        assert hits[0].file_id == ids["cooking.txt"]
        assert retrieval.index.model == "openai:fake-minilm"
        # new files are embedded by the new model
        fresh = world.processed(owner, "new.txt", "Hummingbirds hover by beating wings fast.")
        assert "Hummingbirds hover by beating wings fast." in fake.texts
        assert retrieval.query([f"file-{fresh}"], "tiny birds", 1)[0].file_id == fresh
        # and back: the local vectors are cached, only the new file's chunk is embedded
        switch(world, "", "sentence-transformers/all-MiniLM-L6-v2")
        _wait(lambda: embedding(world)["switch"]["state"] == "ready", 60)
        assert embedding(world)["active"]["model_id"] == local
        assert retrieval.query([f"file-{fresh}"], "tiny birds", 1)[0].file_id == fresh
        assert retrieval.index.model == local
    finally:
        switch(world, "", "sentence-transformers/all-MiniLM-L6-v2")
        fake.close()


def test_a_failing_switch_leaves_the_old_model_serving(world: Stack,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    owner = world.fresh("Unlucky")
    retrieval = world.container.retrieval
    monkeypatch.setattr(retrieval, "switch_retry_base", 0.01)
    file_id = world.processed(owner, "stays.txt", "Penguins cannot fly but swim well.")
    local = retrieval.active_model()
    fake = FakeOpenAI(retrieval.embedder(retrieval.active_spec()))
    fake.fail = True
    try:
        switch(world, "openai", "always-down", fake.url)
        _wait(lambda: embedding(world)["switch"]["state"] == "failed", 60)
        state = embedding(world)
        assert state["active"]["model_id"] == local and "503" in state["switch"]["error"]
        assert retrieval.query([f"file-{file_id}"], "flightless birds", 1)[0].file_id == file_id
        assert retrieval.index.model == local
        later = world.processed(owner, "later.txt", "Files still process meanwhile.")
        assert retrieval.query([f"file-{later}"], "process", 1)[0].file_id == later
    finally:
        body = switch(world, "", "sentence-transformers/all-MiniLM-L6-v2")
        assert body["switch"]["state"] == "ready"
        fake.close()
