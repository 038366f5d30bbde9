"""Embedding providers against the real packaged all-MiniLM-L6-v2 model (no mocks of the model)."""

from __future__ import annotations

import json
import os
import uuid

import httpx
import numpy as np
import pytest

from infrastructure.embeddings import (
    LOCAL_MODEL_ID,
    CachedEmbedder,
    Embedder,
    EmbeddingError,
    LocalMiniLMEmbedder,
    OllamaEmbedder,
    OpenAIEmbedder,
    PostgresEmbeddingCache,
    SQLiteEmbeddingCache,
    embedder_from_env,
    make_embedder,
)

# First 8 dimensions of sentence-transformers 6.2 / torch 2.13 output for "hello world":
# the hand-built ONNX graph must reproduce the reference implementation, not just "look plausible".
HELLO_WORLD_REF = [-0.034477, 0.031023, 0.006735, 0.026109, -0.039362, -0.160302, 0.066924, -0.006441]


class CountingEmbedder(LocalMiniLMEmbedder):
    """The real local model, counting which texts actually reach it."""

    def __init__(self) -> None:
        super().__init__(threads=2)
        self.embedded: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().embed(texts)


@pytest.fixture(scope="module")
def model() -> CountingEmbedder:
    return CountingEmbedder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_local_model_shape_dtype_and_normalisation(model: CountingEmbedder) -> None:
    typed: Embedder = model  # structural: mypy checks the protocol
    vectors = typed.embed(["hello world", "The cat sits on the mat.", ""])
    assert model.model_id == LOCAL_MODEL_ID and model.dim == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_local_model_matches_reference_vectors(model: CountingEmbedder) -> None:
    np.testing.assert_allclose(model.embed(["hello world"])[0, :8], HELLO_WORLD_REF, atol=2e-5)


def test_semantically_close_sentences_score_higher(model: CountingEmbedder) -> None:
    a, b, c = model.embed([
        "A man is playing a guitar on stage.",
        "Someone performs music with a stringed instrument.",
        "The central bank raised interest rates again.",
    ])
    assert cosine(a, b) > cosine(a, c) + 0.2


def test_batching_by_length_keeps_input_order(model: CountingEmbedder) -> None:
    texts = ["short", "a much longer sentence about retrieval " * 6, "mid length text here", "x"]
    together = model.embed(texts)
    one_by_one = np.vstack([model.embed([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_text_past_256_tokens_is_truncated_not_rejected(model: CountingEmbedder) -> None:
    tails = ["zebra crossings in the city", "interest rates and bonds"]
    # One token per word. 300 words: the 256-token window ends inside them, tails are never read.
    a, b = model.embed(["alpha " * 300 + t for t in tails])
    np.testing.assert_allclose(a, b, atol=1e-6)
    # 200 words: the tails are read (tokenizer.json alone would truncate at 128, as ST does not).
    c, d = model.embed(["alpha " * 200 + t for t in tails])
    assert cosine(c, d) < 0.999


def test_empty_input(model: CountingEmbedder) -> None:
    assert model.embed([]).shape == (0, 384)


def test_cache_hit_avoids_reembedding(model: CountingEmbedder, tmp_path) -> None:
    cache_path = tmp_path / "cache.sqlite"
    cached = CachedEmbedder(model, SQLiteEmbeddingCache(cache_path))
    model.embedded.clear()
    first = cached.embed(["alpha beta", "gamma delta", "alpha beta"])
    assert sorted(model.embedded) == ["alpha beta", "gamma delta"]  # duplicates embedded once
    model.embedded.clear()
    second = cached.embed(["gamma delta", "alpha beta"])
    assert model.embedded == []
    np.testing.assert_array_equal(second, first[[1, 0]])
    # Persisted: a new cache object on the same file still hits; a new text still misses.
    reopened = CachedEmbedder(model, SQLiteEmbeddingCache(cache_path))
    reopened.embed(["alpha beta", "epsilon"])
    assert model.embedded == ["epsilon"]
    assert cached.model_id == LOCAL_MODEL_ID and cached.dim == 384


def test_cache_is_keyed_by_model(model: CountingEmbedder, tmp_path) -> None:
    cache = SQLiteEmbeddingCache(tmp_path / "cache.sqlite")
    cache.put_many("other-model", {"h": np.ones(3, np.float32)})
    assert cache.get_many(LOCAL_MODEL_ID, ["h"]) == {}
    np.testing.assert_array_equal(cache.get_many("other-model", ["h"])["h"], np.ones(3))


def _pg_dsn() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.mark.postgres
def test_postgres_cache_roundtrip() -> None:
    import psycopg

    cache = PostgresEmbeddingCache(_pg_dsn())
    model_id = f"test-{uuid.uuid4()}"
    vectors = {f"h{i}": np.full(4, i, np.float32) for i in range(3)}
    cache.put_many(model_id, vectors)
    cache.put_many(model_id, {"h0": np.zeros(4, np.float32) + 9})  # first write wins
    found = cache.get_many(model_id, ["h0", "h2", "missing"])
    assert set(found) == {"h0", "h2"}
    np.testing.assert_array_equal(found["h0"], vectors["h0"])
    with psycopg.connect(_pg_dsn()) as conn:
        conn.execute("DELETE FROM embedding_cache WHERE model = %s", (model_id,))


# ----------------------------------------------------------------------------- HTTP providers
# A fake server speaking each API (httpx.MockTransport): checks the requests we send and that
# answers are reassembled in order and normalised.


def _openai_handler(requests: list) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append((request, body))
        data = [{"index": i, "embedding": [len(t), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        return httpx.Response(200, json={"data": list(reversed(data)), "model": body["model"]})

    return httpx.MockTransport(handle)


def test_openai_provider_batches_orders_and_normalises() -> None:
    requests: list = []
    embedder = OpenAIEmbedder("http://emb.test/v1/", "text-embedding-3-small", api_key="sk-x",
                              batch_size=2, transport=_openai_handler(requests))
    vectors = embedder.embed(["a", "bbb", "cc"])
    assert [r.url.path for r, _ in requests] == ["/v1/embeddings", "/v1/embeddings"]
    assert requests[0][0].headers["authorization"] == "Bearer sk-x"
    assert [b["input"] for _, b in requests] == [["a", "bbb"], ["cc"]]
    expected = np.array([[1, 1, 0], [3, 1, 0], [2, 1, 0]], np.float32)
    np.testing.assert_allclose(vectors, expected / np.linalg.norm(expected, axis=1)[:, None])
    assert embedder.dim == 3 and embedder.model_id == "openai:text-embedding-3-small"


def test_ollama_provider() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert request.url.path == "/api/embed" and body["model"] == "nomic-embed-text"
        return httpx.Response(200, json={"embeddings": [[3.0, 4.0]] * len(body["input"])})

    embedder = OllamaEmbedder("http://ollama.test", "nomic-embed-text", batch_size=8,
                              transport=httpx.MockTransport(handle))
    np.testing.assert_allclose(embedder.embed(["x", "y"]), [[0.6, 0.8], [0.6, 0.8]], rtol=1e-6)
    assert embedder.dim == 2  # learnt from the answer, no probe needed


def test_http_errors_become_embedding_errors() -> None:
    failing = httpx.MockTransport(lambda r: httpx.Response(401, json={"error": "bad key"}))
    with pytest.raises(EmbeddingError, match="401"):
        OpenAIEmbedder("http://emb.test/v1", "m", transport=failing).embed(["a"])
    wrong = httpx.MockTransport(lambda r: httpx.Response(200, json={"embeddings": [[1.0]]}))
    with pytest.raises(EmbeddingError):
        OllamaEmbedder("http://o.test", "m", batch_size=2, transport=wrong).embed(["a", "b"])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(EmbeddingError, match="unreachable"):
        OllamaEmbedder("http://o.test", "m", transport=httpx.MockTransport(refuse)).embed(["a"])


def test_factory_selects_by_open_webui_config_names() -> None:
    env = {"RAG_EMBEDDING_ENGINE": "ollama", "RAG_EMBEDDING_MODEL": "bge-m3",
           "RAG_EMBEDDING_BATCH_SIZE": "4", "RAG_OLLAMA_BASE_URL": "http://ollama.test:11434"}
    embedder = embedder_from_env(env)
    assert isinstance(embedder, OllamaEmbedder) and embedder.batch_size == 4
    assert embedder.model_id == "ollama:bge-m3"
    openai = make_embedder("openai", "text-embedding-3-small", openai_api_key="k")
    assert isinstance(openai, OpenAIEmbedder) and openai.batch_size == 1
    with pytest.raises(ValueError, match="unknown"):
        make_embedder("cohere", "x")
    with pytest.raises(ValueError, match="offline"):
        make_embedder("", "BAAI/bge-large-en")
