"""Benchmark files, knowledge bases and retrieval; prints one JSON object (see docs/retrieval.md).

    python -m scripts.bench.bench_retrieval [--backend sqlite|postgres] [--docs 24]
        [--sizes 1000,10000,50000] [--kbs 50] [--files-per-kb 10] [--queries 200]

1. ingestion: real documents through the whole pipeline (upload → extraction → chunking → the
   local model → recorded → FAISS), timing the model separately: chunks/s and the model's share;
   then the same documents again as new files (every chunk from the embedding cache).
2. query latency end to end (embed the question, search, fetch the chunk texts) on that index.
3. index types at the collection sizes the product sees (a file: tens to hundreds of chunks; a
   knowledge base: thousands to tens of thousands): flat vs IVF vs HNSW — build, query p50/p99,
   recall@10 against exact search, deletion.
4. knowledge list latency over HTTP (GET /api/v1/knowledge/) with K bases of F files each.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

import numpy as np

from scripts.bench.bench_embedding import sample_chunks
from scripts.bench.common import drop_database, emit, fresh_database, percentiles, temp_dir


class Timed:
    """The real embedder, timing every call (the model's share of ingestion)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.seconds = 0.0
        self.texts = 0

    @property
    def model_id(self) -> str:
        return str(self.inner.model_id)

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started
            self.texts += len(texts)


def documents(n: int, seed: int) -> list[str]:
    """~3,000-character documents of real prose (six ~500-character windows each)."""
    pieces = sample_chunks(n * 6, seed=seed)
    return ["\n\n".join(pieces[i * 6:(i + 1) * 6]) for i in range(n)]


def settings_for(backend: str) -> tuple[Any, str | None]:
    from infrastructure.settings import Settings

    env: dict[str, Any] = {"DATA_DIR": str(temp_dir()), "WEBUI_SECRET_KEY": uuid.uuid4().hex * 2,
                           "LOG_LEVEL": "WARNING", "CHUNK_SIZE": 500, "CHUNK_OVERLAP": 50}
    url = None
    if backend == "postgres":
        url = env["DATABASE_URL"] = fresh_database()
    return Settings(**env), url


def bench_ingestion(container: Any, docs: int, queries: int) -> dict[str, Any]:
    from application.auth import Principal
    from application.retrieval import RetrievalService

    retrieval, files = container.retrieval, container.files
    spec = retrieval.active_spec()
    started = time.perf_counter()
    timed = Timed(retrieval.embedder(spec))
    load_s = time.perf_counter() - started
    RetrievalService._embedders[RetrievalService.embedder_key(spec)] = timed
    user = Principal(id=str(uuid.uuid4()), role="user", via="session")
    texts = documents(docs, seed=1)
    timed.embed(["warm up"])
    timed.seconds, timed.texts = 0.0, 0

    def ingest(batch: list[str], tag: str) -> tuple[float, int, list[str]]:
        ids, chunks = [], 0
        began = time.perf_counter()
        for i, text in enumerate(batch):
            outcome = files.upload(user, f"{tag}-{i}.md", "text/markdown", [text.encode()], None,
                                   process=True, background=False)
            assert outcome.value.status == "completed", outcome.value.error
            ids.append(outcome.value.file_id)
            chunks += len(outcome.value.chunks)
        retrieval.query([f"file-{ids[-1]}"], "warm", 1)  # waits until the index has them all
        return time.perf_counter() - began, chunks, ids

    fresh_s, chunks, ids = ingest(texts, "doc")
    model_s = timed.seconds
    cached_started_model = timed.seconds
    cached_s, cached_chunks, _ = ingest(texts, "copy")
    cached_model_s = timed.seconds - cached_started_model
    collections = [f"file-{i}" for i in ids]
    questions = sample_chunks(queries, seed=99)
    latencies = []
    for question in questions:
        began = time.perf_counter()
        retrieval.query(collections, question[:200], 5)
        latencies.append((time.perf_counter() - began) * 1000)
    return {
        "documents": docs, "chunks": chunks, "mean_chunk_chars": round(
            sum(len(t) for t in texts) / max(chunks, 1)),
        "model_load_s": load_s,
        "fresh": {"seconds": fresh_s, "chunks_per_s": chunks / fresh_s,
                  "model_seconds": model_s, "model_share": model_s / fresh_s},
        "cached": {"seconds": cached_s, "chunks_per_s": cached_chunks / cached_s,
                   "model_seconds": cached_model_s},
        "query_ms_end_to_end": {"collections": len(collections), "vectors": chunks,
                                **percentiles(latencies)},
    }


def corpus_vectors(n: int, base: np.ndarray, seed: int) -> np.ndarray:
    """n vectors shaped like real embeddings: real chunk vectors plus noise, normalised."""
    rng = np.random.default_rng(seed)
    picks = base[rng.integers(0, len(base), n)]
    noisy = picks + rng.normal(0, 0.35 / np.sqrt(base.shape[1]) * 4, picks.shape)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def bench_index_types(embedder: Any, sizes: list[int], queries: int) -> list[dict[str, Any]]:
    import faiss

    faiss.omp_set_num_threads(1)  # as the product searches (projections.retrieval_index)
    base = embedder.embed(sample_chunks(1024, seed=3))
    out = []
    for n in sizes:
        data = corpus_vectors(n, base, seed=n)
        ids = np.arange(n, dtype=np.int64)
        qs = corpus_vectors(queries, base, seed=n + 1)
        flat = faiss.IndexIDMap2(faiss.IndexFlatIP(base.shape[1]))
        began = time.perf_counter()
        flat.add_with_ids(data, ids)
        flat_build = time.perf_counter() - began
        _, truth = flat.search(qs, 10)
        nlist = max(8, int(np.sqrt(n)))  # ≥ 39 training points per centroid
        kinds: dict[str, tuple[Any, float]] = {"flat (IDMap2 FlatIP)": (flat, flat_build)}
        began = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(base.shape[1]), base.shape[1], nlist,
                                 faiss.METRIC_INNER_PRODUCT)
        ivf.train(data)
        ivf.add_with_ids(data, ids)
        ivf.nprobe = 16
        kinds[f"IVFFlat nlist={nlist} nprobe=16"] = (ivf, time.perf_counter() - began)
        began = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(base.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = 64
        hnsw.add(data)
        kinds["HNSW M=32 efSearch=64"] = (hnsw, time.perf_counter() - began)
        for name, (index, build_s) in kinds.items():
            lat, found = [], []
            for q in qs:
                began = time.perf_counter()
                _, hit = index.search(q.reshape(1, -1), 10)
                lat.append((time.perf_counter() - began) * 1000)
                found.append(hit[0])
            recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth,
                                                                            strict=True)]))
            try:
                began = time.perf_counter()
                index.remove_ids(ids[:50].copy())
                delete: Any = round((time.perf_counter() - began) * 1000, 2)
            except RuntimeError:
                delete = "not supported"
            out.append({"vectors": n, "index": name, "build_s": build_s,
                        "query_ms": percentiles(lat), "recall_at_10": recall,
                        "delete_50_ms": delete})
    return out


def bench_knowledge_list(container: Any, kbs: int, files_per_kb: int,
                         queries: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    with TestClient(create_app(container=container)) as client:
        r = client.post("/api/v1/auths/signup", json={"name": "Bench", "password": "pw-bench-1",
                                                       "email": f"{uuid.uuid4().hex}@x.org"})
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        file_ids = []
        for i in range(kbs * files_per_kb):
            r = client.post("/api/v1/files/", files={"file": (f"f{i}.txt", f"Note {i}.".encode(),
                                                              "text/plain")},
                            params={"process_in_background": "false"}, headers=headers)
            file_ids.append(r.json()["id"])
        for k in range(kbs):
            r = client.post("/api/v1/knowledge/create", json={"name": f"KB {k}",
                                                             "description": "bench"},
                            headers=headers)
            kb = r.json()["id"]
            for file_id in file_ids[k * files_per_kb:(k + 1) * files_per_kb]:
                client.post(f"/api/v1/knowledge/{kb}/file/add", json={"file_id": file_id},
                            headers=headers)
        client.get("/api/v1/knowledge/", headers=headers)
        latencies = []
        for _ in range(queries):
            began = time.perf_counter()
            r = client.get("/api/v1/knowledge/", headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
        assert len(r.json()) == kbs
        return {"knowledge_bases": kbs, "files_each": files_per_kb,
                "response_bytes": len(r.content), "ms": percentiles(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--docs", type=int, default=24)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--kbs", type=int, default=50)
    parser.add_argument("--files-per-kb", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("EVENTSOURCING_DISABLE_REDEFINITION_CHECK", "y")

    from interfaces.composition.bootstrap import bootstrap

    settings, url = settings_for(args.backend)
    container = bootstrap(settings)
    try:
        result: dict[str, Any] = {"backend": args.backend, "cpus": os.cpu_count(),
                                  "load_average": os.getloadavg()}
        result["ingestion"] = bench_ingestion(container, args.docs, args.queries)
        embedder = container.retrieval.embedder(container.retrieval.active_spec())
        result["index_types"] = bench_index_types(embedder, [int(s) for s in
                                                             args.sizes.split(",") if s],
                                                  args.queries)
        result["knowledge_list"] = bench_knowledge_list(container, args.kbs, args.files_per_kb,
                                                        args.queries)
        result["load_average_after"] = os.getloadavg()
    finally:
        container.close()
        if url:
            drop_database(url)
    emit(result)


if __name__ == "__main__":
    main()
