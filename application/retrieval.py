"""Retrieval use cases: the RAG configuration, embeddings, vector queries, switching the model.

Configuration is the reference's: environment defaults (infrastructure.settings), overridden by
what an admin saves (kept in the system config aggregate under RAG_* keys).

Embedding models. The active model (RAG_EMBEDDING_ACTIVE) is what the index holds and queries
are embedded with. An admin's new engine/model (RAG_EMBEDDING) becomes active only after a job
has embedded every live chunk with it (each vector lands in the embedding cache under (model,
sha256(text))); the switch is then one event, and each process's FAISS mirror rebuilds from the
cache and swaps whole (projections.retrieval_index). Until then the old model keeps serving:
there is never a half-switched index. Files processed meanwhile are embedded with both models.

Embedders are created once per process, lazily, on first use: the local model takes seconds and
~450 MB to load, so nothing loads it at import or for work that does not embed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from application.auth import Principal
from application.commands import CommandRunner, Outcome
from application.errors import BadRequest, NotFound
from application.messages import Detail
from application.ports import FileStorage, JobQueue, ProjectionWaiter

log = logging.getLogger("chronicle.retrieval")

INDEX_PROJECTION = "retrieval_index"
RAG_CONFIG = "RAG_CONFIG"
RAG_EMBEDDING = "RAG_EMBEDDING"  # what the admin asked for
RAG_EMBEDDING_ACTIVE = "RAG_EMBEDDING_ACTIVE"  # what the index holds
RAG_EMBEDDING_SWITCH = "RAG_EMBEDDING_SWITCH"  # progress of a switch: state, model, error
ENGINES = ("", "openai", "ollama")
SWITCH_RETRIES = 6
SWITCH_BATCH_FILES = 100
QUERY_WAIT_SECONDS = 5.0

DEFAULT_RAG_TEMPLATE = "\n".join([  # the reference's default (config.py)
    '### Task:',
    ('Respond to the user query using the provided context, incorporating inline citations in '
     'the format [id] **only when the <source> tag includes an explicit id attribute** (e.g., '
     '<source id="1">).'),
    '',
    '### Guidelines:',
    "- If you don't know the answer, clearly state that.",
    '- If uncertain, ask the user for clarification.',
    "- Respond in the same language as the user's query.",
    '- If the context is unreadable or of poor quality, inform the user and provide the best possible answer.',
    ("- If the answer isn't present in the context but you possess the knowledge, explain this "
     'to the user and provide the answer using your own understanding.'),
    '- **Only include inline citations using [id] (e.g., [1], [2]) when the <source> tag includes an id attribute.**',
    '- Do not cite if the <source> tag does not contain an id attribute.',
    '- Do not use XML tags in your response.',
    '- Ensure citations are concise and directly related to the information provided.',
    '',
    '### Output:',
    ("Provide a clear and direct response to the user's query, including inline citations in the"
     ' format [id] only when the <source> tag with id attribute is present in the context.'),
    '',
    '<context>',
    '{{CONTEXT}}',
    '</context>',
    '',
    '<user_query>',
    '{{QUERY}}',
    '</user_query>',
    '',
])


# -- configuration ------------------------------------------------------------------------------
def rag_defaults(chunk_size: int, chunk_overlap: int, top_k: int,
                 file_max_size_mb: int | None) -> dict[str, Any]:
    """The reference's RAG settings that Chronicle uses or keeps for the admin UI."""
    return {
        "RAG_TEMPLATE": DEFAULT_RAG_TEMPLATE,
        "TOP_K": top_k,
        "BYPASS_EMBEDDING_AND_RETRIEVAL": False,
        "RAG_FULL_CONTEXT": False,
        "ENABLE_RAG_HYBRID_SEARCH": False,
        "ENABLE_RAG_HYBRID_SEARCH_ENRICHED_TEXTS": False,
        "TOP_K_RERANKER": top_k,
        "RELEVANCE_THRESHOLD": 0.0,
        "HYBRID_BM25_WEIGHT": 0.5,
        "CONTENT_EXTRACTION_ENGINE": "",
        "PDF_EXTRACT_IMAGES": False,
        "RAG_RERANKING_MODEL": "",
        "RAG_RERANKING_ENGINE": "",
        "TEXT_SPLITTER": "",
        "CHUNK_SIZE": chunk_size,
        "CHUNK_OVERLAP": chunk_overlap,
        "FILE_MAX_SIZE": file_max_size_mb,
        "FILE_MAX_COUNT": None,
        "ALLOWED_FILE_EXTENSIONS": [],
        "ENABLE_GOOGLE_DRIVE_INTEGRATION": False,
        "ENABLE_ONEDRIVE_INTEGRATION": False,
    }


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which embedder: RAG_EMBEDDING_ENGINE ("" local, "openai", "ollama"), model and endpoint."""

    engine: str = ""
    model: str = ""
    batch_size: int | None = None
    openai_url: str = ""
    openai_key: str = ""
    ollama_url: str = ""
    ollama_key: str = ""
    async_embedding: bool = True
    concurrent_requests: int = 0

    def endpoint(self) -> str:
        return {"openai": self.openai_url, "ollama": self.ollama_url}.get(self.engine, "")

    @staticmethod
    def from_dict(value: dict[str, Any] | None, default: EmbeddingSpec) -> EmbeddingSpec:
        if not isinstance(value, dict):
            return default
        known = {k: v for k, v in value.items() if k in EmbeddingSpec.__dataclass_fields__}
        return EmbeddingSpec(**{**asdict(default), **known})


class Embedder(Protocol):
    @property
    def model_id(self) -> str: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class EmbeddingPorts:
    """What infrastructure provides (wired in interfaces.composition)."""

    model_id: Callable[[EmbeddingSpec], str]  # the cache key of a spec's model, without loading it
    create: Callable[[EmbeddingSpec], Embedder]  # a raw embedder (may load a model)
    cached: Callable[[Embedder], Embedder]  # embeds only texts not cached under (model, sha256)
    lookup: Callable[[str, set[str]], dict[str, np.ndarray]]  # cached vectors by sha256
    validate: Callable[[EmbeddingSpec], None]  # raises ValueError for a spec that cannot work


class VectorSearch(Protocol):
    def sync(self) -> int: ...

    def start(self) -> None: ...

    def search(self, collections: Sequence[str], vector: np.ndarray, k: int
               ) -> tuple[str | None, list[tuple[str, int, float]]]: ...


class ChunkSources(Protocol):
    def files(self, file_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    def all_files(self, after: str = "", limit: int = 200) -> list[dict[str, Any]]: ...

    def owners(self, chunk_ids: Sequence[int]) -> dict[int, str]: ...


class Transient(Exception):
    """A failure worth retrying (an endpoint down, a database restarting)."""


@dataclass
class Hit:
    collection: str
    file_id: str
    chunk_id: int
    score: float
    text: str
    start: int
    end: int
    meta: dict[str, Any] = field(default_factory=dict)


class RetrievalService:
    _embedders: ClassVar[dict[tuple[str, ...], Embedder]] = {}  # process-wide: one model load
    _embedders_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: Any, runner: CommandRunner, defaults: dict[str, Any],
                 embedding_default: EmbeddingSpec, ports: EmbeddingPorts, storage: FileStorage,
                 chunks: ChunkSources, jobs: JobQueue, waiter: ProjectionWaiter,
                 head: Callable[[], int], access: Callable[[Principal, str], bool] | None = None,
                 index: VectorSearch | None = None):
        self.config = config
        self.runner = runner
        self.defaults = defaults
        self.embedding_default = embedding_default
        self.ports = ports
        self.storage = storage
        self.chunks = chunks
        self.jobs = jobs
        self.waiter = waiter
        self.head = head
        self.access = access  # may this principal read this collection?
        self.index = index  # the vector index searches query (none: nothing to search)
        self.switch_retry_base = 2.0  # seconds; the n-th retry of a switch waits base * 2**n

    # -- configuration ------------------------------------------------------------------------
    def rag_config(self) -> dict[str, Any]:
        saved = self.config.get(RAG_CONFIG)
        return {**self.defaults, **(saved if isinstance(saved, dict) else {})}

    def chunking(self) -> tuple[int, int]:
        values = self.rag_config()
        return int(values["CHUNK_SIZE"]), int(values["CHUNK_OVERLAP"])

    def max_file_bytes(self) -> int | None:
        value = self.rag_config().get("FILE_MAX_SIZE")
        try:
            mb = float(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            mb = None
        return int(mb * 1024 * 1024) if mb and mb > 0 else None

    def allowed_extensions(self) -> list[str]:
        value = self.rag_config().get("ALLOWED_FILE_EXTENSIONS") or []
        return [str(e).lower().lstrip(".") for e in value if str(e).strip()]

    def update_rag_config(self, changes: dict[str, Any]) -> Outcome[dict[str, Any]]:
        merged = {**self.rag_config(), **changes}
        size, overlap = merged.get("CHUNK_SIZE"), merged.get("CHUNK_OVERLAP")
        if not isinstance(size, int) or not 1 <= size <= 100_000:
            raise BadRequest(Detail.DEFAULT("CHUNK_SIZE must be between 1 and 100000"))
        if not isinstance(overlap, int) or not 0 <= overlap < size:
            raise BadRequest(Detail.DEFAULT("CHUNK_OVERLAP must be at least 0 and less than "
                                            "CHUNK_SIZE"))
        top_k = merged.get("TOP_K")
        if not isinstance(top_k, int) or not 1 <= top_k <= 1000:
            raise BadRequest(Detail.DEFAULT("TOP_K must be between 1 and 1000"))
        limit = merged.get("FILE_MAX_SIZE")
        if limit in ("", 0):
            merged["FILE_MAX_SIZE"] = None
        elif limit is not None:
            try:
                if float(limit) <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                raise BadRequest(Detail.DEFAULT("FILE_MAX_SIZE must be a positive number of "
                                                "megabytes")) from None
        saved = {k: v for k, v in merged.items() if self.defaults.get(k, object()) != v}
        outcome = self.config.update({RAG_CONFIG: saved})
        return Outcome(self.rag_config(), outcome.position)

    def status(self) -> dict[str, Any]:
        values, spec = self.rag_config(), self.active_spec()
        return {"status": True, "CHUNK_SIZE": values["CHUNK_SIZE"],
                "CHUNK_OVERLAP": values["CHUNK_OVERLAP"], "RAG_TEMPLATE": values["RAG_TEMPLATE"],
                "RAG_EMBEDDING_ENGINE": spec.engine, "RAG_EMBEDDING_MODEL": spec.model,
                "RAG_RERANKING_MODEL": values["RAG_RERANKING_MODEL"],
                "RAG_EMBEDDING_BATCH_SIZE": self._batch(spec),
                "ENABLE_ASYNC_EMBEDDING": spec.async_embedding}

    # -- embedding configuration ------------------------------------------------------------
    def requested_spec(self) -> EmbeddingSpec:
        return EmbeddingSpec.from_dict(self.config.get(RAG_EMBEDDING), self.active_spec())

    def active_spec(self) -> EmbeddingSpec:
        return EmbeddingSpec.from_dict(self.config.get(RAG_EMBEDDING_ACTIVE),
                                       self.embedding_default)

    def same_vectors(self, a: EmbeddingSpec, b: EmbeddingSpec) -> bool:
        """Whether two specs yield the same vectors (the model, and the endpoint serving it)."""
        return (self.ports.model_id(a), a.endpoint()) == (self.ports.model_id(b), b.endpoint())

    def active_model(self) -> str:
        return self.ports.model_id(self.active_spec())

    def _batch(self, spec: EmbeddingSpec) -> int:
        return spec.batch_size or (16 if spec.engine == "" else 1)

    def embedding_config(self) -> dict[str, Any]:
        spec, active = self.requested_spec(), self.active_spec()
        switch = self.config.get(RAG_EMBEDDING_SWITCH) or {}
        state = "ready" if self.same_vectors(spec, active) else switch.get("state", "reindexing")
        return {
            "status": True,
            "RAG_EMBEDDING_ENGINE": spec.engine,
            "RAG_EMBEDDING_MODEL": spec.model,
            "RAG_EMBEDDING_BATCH_SIZE": self._batch(spec),
            "ENABLE_ASYNC_EMBEDDING": spec.async_embedding,
            "RAG_EMBEDDING_CONCURRENT_REQUESTS": spec.concurrent_requests,
            "openai_config": {"url": spec.openai_url, "key": spec.openai_key},
            "ollama_config": {"url": spec.ollama_url, "key": spec.ollama_key},
            "azure_openai_config": {"url": "", "key": "", "version": ""},
            # Chronicle's own: which model the index holds while a switch is in progress.
            "active": {"RAG_EMBEDDING_ENGINE": active.engine,
                       "RAG_EMBEDDING_MODEL": active.model,
                       "model_id": self.ports.model_id(active)},
            "switch": {"state": state, "error": switch.get("error") if state == "failed" else None},
        }

    def update_embedding_config(self, spec: EmbeddingSpec) -> Outcome[dict[str, Any]]:
        if spec.engine not in ENGINES:
            raise BadRequest(Detail.DEFAULT(f"Unsupported embedding engine: {spec.engine}"))
        try:
            self.ports.validate(spec)
        except ValueError as error:
            raise BadRequest(Detail.DEFAULT(str(error))) from None
        active = self.active_spec()
        if self.same_vectors(spec, active):
            # Same vectors: batch size, keys and such apply at once; any switch is cancelled.
            outcome = self.config.update({RAG_EMBEDDING: asdict(spec),
                                          RAG_EMBEDDING_ACTIVE: asdict(spec),
                                          RAG_EMBEDDING_SWITCH: {"state": "ready"}})
        else:
            outcome = self.config.update({RAG_EMBEDDING: asdict(spec),
                                          RAG_EMBEDDING_SWITCH: {"state": "reindexing",
                                                                 "model": self.ports.model_id(spec)}})
            self.jobs.enqueue("retrieval.switch_model", target=asdict(spec))
        return Outcome(self.embedding_config(), outcome.position)

    # -- embedders --------------------------------------------------------------------------
    @staticmethod
    def embedder_key(spec: EmbeddingSpec) -> tuple[str, ...]:
        """Specs differing only in batch size or concurrency share one embedder (one model)."""
        key = {"openai": spec.openai_key, "ollama": spec.ollama_key}.get(spec.engine, "")
        return (spec.engine, spec.model, spec.endpoint(), key)

    def embedder(self, spec: EmbeddingSpec) -> Embedder:
        """The raw embedder of a spec, created once per process (thread-safe, lazy)."""
        key = self.embedder_key(spec)
        found = self._embedders.get(key)
        if found is None:
            with self._embedders_lock:
                found = self._embedders.get(key)
                if found is None:
                    found = self._embedders[key] = self.ports.create(spec)
        if spec.batch_size and hasattr(found, "batch_size"):
            found.batch_size = spec.batch_size  # type: ignore[attr-defined]
        return found

    def embed_chunks(self, texts: list[str]) -> str:
        """Embed chunk texts into the cache with the active model (and with a requested one
        still being switched to); returns the active model's id. Cached texts are not embedded."""
        active = self.active_spec()
        self.ports.cached(self.embedder(active)).embed(texts)
        requested = self.requested_spec()
        if not self.same_vectors(requested, active):
            try:
                self.ports.cached(self.embedder(requested)).embed(texts)
            except Exception:  # the switch job embeds what is missing; it must not fail a file
                log.warning("embedding with the requested model failed", exc_info=True)
        return self.ports.model_id(active)

    def vectors_for(self, model: str, entries: Sequence[Any]) -> dict[str, np.ndarray]:
        """Vectors of index entries from the cache; any missing are embedded from their text
        (found through the file's chunks) with the active model — normally none are."""
        hashes = {e.sha256 for e in entries}
        found = self.ports.lookup(model, hashes)
        missing = [e for e in entries if e.sha256 not in found]
        if not missing:
            return found
        spec = self.active_spec()
        if self.ports.model_id(spec) != model:
            return found
        texts = self._chunk_texts({e.file_id for e in missing}, {e.sha256 for e in missing})
        if texts:
            vectors = self.ports.cached(self.embedder(spec)).embed(list(texts.values()))
            found.update(zip(texts, vectors, strict=True))
        return found

    def _chunk_texts(self, file_ids: set[str], wanted: set[str] | None = None) -> dict[str, str]:
        """sha256 -> chunk text for the chunks of these files (all of them, or the wanted)."""
        out: dict[str, str] = {}
        for file_id, source in self.chunks.files(sorted(file_ids)).items():
            try:
                text = self.storage.get(source["text_hash"]).decode("utf-8")
            except (OSError, ValueError):
                log.warning("text of an indexed file is missing", extra={"file_id": file_id})
                continue
            for _, start, end, sha in source["chunks"]:
                if wanted is None or sha in wanted:
                    out[sha] = text[start:end]
        return out

    # -- switching the model (a job) --------------------------------------------------------
    def switch_model(self, target: dict[str, Any], attempt: int = 0) -> str:
        """Embed every live chunk with the target model, then make it active in one event."""
        spec = EmbeddingSpec.from_dict(target, self.embedding_default)
        if not self.same_vectors(self.requested_spec(), spec):
            return "superseded"
        if self.same_vectors(self.active_spec(), spec):
            return "active"
        model = self.ports.model_id(spec)
        try:
            embedder = self.ports.cached(self.embedder(spec))
            after = ""
            while batch := self.chunks.all_files(after, SWITCH_BATCH_FILES):
                after = batch[-1]["file_id"]
                texts = self._chunk_texts({f["file_id"] for f in batch})
                if texts:
                    found = self.ports.lookup(model, set(texts))
                    todo = [t for sha, t in texts.items() if sha not in found]
                    if todo:
                        embedder.embed(todo)
                if not self.same_vectors(self.requested_spec(), spec):
                    return "superseded"
        except Exception as error:  # an endpoint down or a model failing: retry, then give up
            if attempt + 1 < SWITCH_RETRIES:
                delay = min(300.0, self.switch_retry_base * 2 ** attempt)
                log.warning("embedding model switch failed; retrying",
                            extra={"model": model, "attempt": attempt, "delay": delay},
                            exc_info=True)
                self.jobs.enqueue("retrieval.switch_model", target=target, attempt=attempt + 1,
                                  delay=delay)
                return "retrying"
            self.config.update({RAG_EMBEDDING_SWITCH: {"state": "failed", "model": model,
                                                       "error": _readable(error)}})
            return "failed"

        if self.same_vectors(self.requested_spec(), spec):
            self.config.update({RAG_EMBEDDING_ACTIVE: asdict(self.requested_spec()),
                                RAG_EMBEDDING_SWITCH: {"state": "ready", "model": model}})
            log.info("embedding model switched", extra={"model": model})
            return "switched"
        return "superseded"

    # -- queries ----------------------------------------------------------------------------
    def can_read(self, principal: Principal, collection: str) -> bool:
        return principal.is_admin or (self.access is not None and self.access(principal, collection))

    def query(self, collection_names: Sequence[str], text: str, k: int | None = None,
              principal: Principal | None = None, min_position: int | None = None) -> list[Hit]:
        """The k chunks nearest to `text` over the named collections (file-{id}, knowledge ids).

        Strongly consistent by default: it waits (bounded) until the index projection has
        applied the log as it was when called."""
        names = [c for c in dict.fromkeys(collection_names) if c]
        if principal is not None:
            for name in names:
                if not self.can_read(principal, name):
                    raise NotFound(Detail.NOT_FOUND)
        k = k or int(self.rag_config()["TOP_K"])
        if not names or not text.strip() or self.index is None:
            return []
        target = self.head() if min_position is None else min_position
        self.waiter.wait([INDEX_PROJECTION], target, QUERY_WAIT_SECONDS)
        self.index.start()
        for _ in range(3):  # a model switch may land between embedding the query and searching
            self.index.sync()
            spec = self.active_spec()
            vector = self.embedder(spec).embed([text])[0]
            model, found = self.index.search(names, vector, k)
            if model in (None, self.ports.model_id(spec)):
                break
        else:
            return []
        return self._hits(found)

    def _hits(self, found: list[tuple[str, int, float]]) -> list[Hit]:
        if not found:
            return []
        owners = self.chunks.owners([cid for _, cid, _ in found])
        by_chunk: dict[int, tuple[str, int, int, str]] = {}
        for file_id, source in self.chunks.files(sorted(set(owners.values()))).items():
            for cid, start, end, _ in source["chunks"]:
                by_chunk[int(cid)] = (file_id, start, end, source["text_hash"])
        texts: dict[str, str] = {}
        hits = []
        for collection, cid, score in found:
            if cid not in by_chunk:
                continue  # the file changed since the search
            file_id, start, end, text_hash = by_chunk[cid]
            if text_hash not in texts:
                try:
                    texts[text_hash] = self.storage.get(text_hash).decode("utf-8")
                except (OSError, ValueError):
                    texts[text_hash] = ""
            hits.append(Hit(collection, file_id, cid, score, texts[text_hash][start:end], start,
                            end))
        return hits


def _readable(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text[:500]
