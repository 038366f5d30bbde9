"""Benchmark the local embedding route and the FAISS index; prints one JSON object.

    python -m scripts.bench.bench_embedding [--chunks 256] [--threads 2] [--vectors 20000]

Chunks are ~500-character windows of real prose (the repo's and shared/'s Markdown, or a
generated fallback) so token counts resemble ingestion; the mean token count is reported.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from infrastructure.chunking import chunk_text
from infrastructure.embeddings import LOCAL_BATCH_SIZE, LocalMiniLMEmbedder
from infrastructure.vector_index import VectorIndex

ROOT = Path(__file__).resolve().parents[2]


def corpus_text() -> str:
    paths = sorted(ROOT.glob("docs/**/*.md")) + sorted((ROOT.parent / "shared").glob("**/*.md"))
    text = "\n\n".join(p.read_text(errors="replace") for p in paths if p.is_file())
    if len(text) > 100_000:
        return text
    words = ["the", "index", "of", "each", "event", "records", "who", "changed", "which",
             "chat", "and", "when", "it", "was", "read"]
    rnd = random.Random(7)
    return " ".join(rnd.choice(words) for _ in range(40_000))


def sample_chunks(n: int, seed: int = 0) -> list[str]:
    chunks = [c.text for c in chunk_text(corpus_text(), 500, 50) if len(c.text) > 400]
    rnd = random.Random(seed)
    return [rnd.choice(chunks) for _ in range(n)]


def bench_embedding(n_chunks: int, threads: int) -> dict:
    started = time.perf_counter()
    embedder = LocalMiniLMEmbedder(threads=threads)
    load_s = time.perf_counter() - started
    chunks = sample_chunks(n_chunks)
    tokens = embedder.token_counts(chunks)
    embedder.embed(chunks[:LOCAL_BATCH_SIZE])  # warm-up: first run allocates arenas
    started = time.perf_counter()
    embedder.embed(chunks)
    elapsed = time.perf_counter() - started
    query_ms = []
    for text in ["how do I share a chat?"] * 30:
        t = time.perf_counter()
        embedder.embed([text])
        query_ms.append((time.perf_counter() - t) * 1000)
    return {
        "route": "onnxruntime fp32, graph built from packaged safetensors",
        "threads": threads,
        "batch_size": embedder.batch_size,
        "chunks": n_chunks,
        "mean_chars": round(statistics.mean(len(c) for c in chunks)),
        "mean_tokens": round(statistics.mean(tokens), 1),
        "load_s": round(load_s, 2),
        "chunks_per_s": round(n_chunks / elapsed, 1),
        "query_p50_ms": round(statistics.median(query_ms), 2),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def bench_faiss(n_vectors: int, dim: int = 384, queries: int = 200) -> dict:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n_vectors, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex()
    started = time.perf_counter()
    for start in range(0, n_vectors, 1000):
        ids = np.arange(start, min(start + 1000, n_vectors), dtype=np.int64)
        index.add("bench", ids, vectors[ids])
    add_s = time.perf_counter() - started
    latencies = []
    for q in vectors[rng.integers(0, n_vectors, queries)]:
        t = time.perf_counter()
        index.search("bench", q[None, :], 10)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    started = time.perf_counter()
    index.remove("bench", np.arange(0, 50, dtype=np.int64))
    remove_ms = (time.perf_counter() - started) * 1000
    return {
        "index": "IndexIDMap2(IndexFlatIP)",
        "vectors": n_vectors,
        "add_vectors_per_s": round(n_vectors / add_s),
        "search_k10_p50_ms": round(latencies[len(latencies) // 2], 2),
        "search_k10_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "remove_50_ids_ms": round(remove_ms, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vectors", type=int, default=20_000)
    args = parser.parse_args(argv)
    import faiss

    faiss.omp_set_num_threads(args.threads)
    result = {
        "embedding": bench_embedding(args.chunks, args.threads),
        "faiss": bench_faiss(args.vectors),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
