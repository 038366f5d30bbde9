"""The vector index as a projection: which chunk vectors each collection holds, and its FAISS mirror.

Two layers, so that every process that answers queries can hold the index while the log is still
applied exactly once:

1. `RetrievalIndexProjector` (a runtime projector; transactional, rebuildable, leased) keeps
     rag_files    file_id -> its current chunks [[chunk_id, start, end, sha256], ...] and text hash
     rag_links    (knowledge id, file_id) membership
     rag_entries  (collection, chunk_id) -> file_id, sha256, live, position
   Collections are the reference's names: `file-{id}` for each file and the knowledge base id for
   each knowledge base. A removed vector is kept as a tombstone (live = 0) at the position of the
   event that removed it; `position` is the log position of the row's last change.

2. `VectorMirror` (one per process) is the FAISS index (infrastructure.vector_index.VectorIndex):
   it applies the rows changed since the position it covers (`position > ?`, indexed), taking
   each vector from the embedding cache by (model, sha256) — rebuilding or catching up never
   re-embeds. It is persisted under DATA_DIR/vector_index with that position and, on start,
   loaded and brought up to date from it. A new read-model generation (`chronicle rebuild
   retrieval_index`, a projector version bump) or a new active embedding model makes it rebuild
   itself from the rows in memory and swap, so a query never sees a half-switched index.
   One process at a time (a file lock) writes the snapshot; others only read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import singledispatchmethod
from pathlib import Path
from typing import Any

import numpy as np

from domain.file import File, collection_of
from domain.knowledge import KnowledgeBase
from infrastructure.sql import Database, Tx
from infrastructure.vector_index import MANIFEST, VectorIndex
from projections.runtime import STATE_TABLE, Event, Projector

log = logging.getLogger("chronicle.retrieval_index")

NAME = "retrieval_index"
SIDECAR = "mirror.json"


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class RetrievalIndexProjector(Projector):
    name = NAME
    version = 1
    tables = ("rag_files", "rag_links", "rag_entries")

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {rag_files} (file_id TEXT PRIMARY KEY, text_hash TEXT NOT NULL,"
            " chunks TEXT NOT NULL, position BIGINT NOT NULL)",
            "CREATE TABLE {rag_links} (kb_id TEXT NOT NULL, file_id TEXT NOT NULL,"
            " PRIMARY KEY (kb_id, file_id))",
            "CREATE INDEX {rag_links}_file ON {rag_links} (file_id)",
            "CREATE TABLE {rag_entries} (collection TEXT NOT NULL, chunk_id BIGINT NOT NULL,"
            " file_id TEXT NOT NULL, sha256 TEXT NOT NULL, live INTEGER NOT NULL,"
            " position BIGINT NOT NULL, PRIMARY KEY (collection, chunk_id))",
            "CREATE INDEX {rag_entries}_position ON {rag_entries} (position)",
            "CREATE INDEX {rag_entries}_file ON {rag_entries} (collection, file_id)",
            "CREATE INDEX {rag_entries}_chunk ON {rag_entries} (chunk_id)",
        ]

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        for position, event in events:
            self.handle(event, tx, position)

    @singledispatchmethod
    def handle(self, event: Any, tx: Tx, position: int = 0) -> None:  # type: ignore[override]
        """Events this projection does not follow."""

    # -- helpers ----------------------------------------------------------------------------
    def _chunks(self, tx: Tx, file_id: str) -> list[list[Any]] | None:
        rows = tx.execute(f"SELECT chunks FROM {self.t['rag_files']} WHERE file_id = ?", (file_id,))
        return json.loads(rows[0]["chunks"]) if rows else None

    def _kbs(self, tx: Tx, file_id: str) -> list[str]:
        rows = tx.execute(f"SELECT kb_id FROM {self.t['rag_links']} WHERE file_id = ?", (file_id,))
        return sorted(r["kb_id"] for r in rows)

    def _set(self, tx: Tx, collection: str, file_id: str, chunks: Iterable[list[Any]],
             position: int) -> None:
        """Make the file's live entries in `collection` exactly `chunks` (empty: none)."""
        entries = self.t["rag_entries"]
        current = {int(r["chunk_id"]): (r["sha256"], int(r["live"])) for r in tx.execute(
            f"SELECT chunk_id, sha256, live FROM {entries} WHERE collection = ? AND file_id = ?",
            (collection, file_id))}
        want = {int(c[0]): str(c[3]) for c in chunks}
        upserts = [(collection, cid, file_id, sha, position) for cid, sha in want.items()
                   if current.get(cid) != (sha, 1)]
        kills = [(position, collection, cid) for cid, (_, live) in current.items()
                 if live and cid not in want]
        if upserts:
            tx.executemany(f"INSERT INTO {entries} (collection, chunk_id, file_id, sha256, live,"
                           f" position) VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (collection, chunk_id)"
                           f" DO UPDATE SET file_id = excluded.file_id, sha256 = excluded.sha256,"
                           f" live = 1, position = excluded.position", upserts)
        if kills:
            tx.executemany(f"UPDATE {entries} SET live = 0, position = ? WHERE collection = ? AND"
                           f" chunk_id = ?", kills)

    # -- files ------------------------------------------------------------------------------
    @handle.register
    def _processed(self, event: File.Processed, tx: Tx, position: int = 0) -> None:
        file_id = event.file_id
        tx.execute(f"INSERT INTO {self.t['rag_files']} (file_id, text_hash, chunks, position)"
                   f" VALUES (?, ?, ?, ?) ON CONFLICT (file_id) DO UPDATE SET"
                   f" text_hash = excluded.text_hash, chunks = excluded.chunks,"
                   f" position = excluded.position",
                   (file_id, event.text_hash, json.dumps(event.chunks), position))
        for collection in [collection_of(file_id), *self._kbs(tx, file_id)]:
            self._set(tx, collection, file_id, event.chunks, position)

    @handle.register
    def _file_deleted(self, event: File.Deleted, tx: Tx, position: int = 0) -> None:
        file_id = event.file_id
        for collection in [collection_of(file_id), *self._kbs(tx, file_id)]:
            self._set(tx, collection, file_id, [], position)
        tx.execute(f"DELETE FROM {self.t['rag_links']} WHERE file_id = ?", (file_id,))
        tx.execute(f"DELETE FROM {self.t['rag_files']} WHERE file_id = ?", (file_id,))

    # -- knowledge bases --------------------------------------------------------------------
    @handle.register
    def _kb_file_added(self, event: KnowledgeBase.FileAdded, tx: Tx, position: int = 0) -> None:
        tx.execute(f"INSERT INTO {self.t['rag_links']} (kb_id, file_id) VALUES (?, ?)"
                   f" ON CONFLICT (kb_id, file_id) DO NOTHING", (event.knowledge_id, event.file_id))
        self._set(tx, event.knowledge_id, event.file_id, self._chunks(tx, event.file_id) or [],
                  position)

    @handle.register
    def _kb_file_removed(self, event: KnowledgeBase.FileRemoved, tx: Tx, position: int = 0) -> None:
        tx.execute(f"DELETE FROM {self.t['rag_links']} WHERE kb_id = ? AND file_id = ?",
                   (event.knowledge_id, event.file_id))
        self._set(tx, event.knowledge_id, event.file_id, [], position)

    @handle.register
    def _kb_deleted(self, event: KnowledgeBase.Deleted, tx: Tx, position: int = 0) -> None:
        tx.execute(f"DELETE FROM {self.t['rag_links']} WHERE kb_id = ?", (event.knowledge_id,))
        tx.execute(f"UPDATE {self.t['rag_entries']} SET live = 0, position = ? WHERE"
                   f" collection = ? AND live = 1", (position, event.knowledge_id))


# -- queries --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    collection: str
    chunk_id: int
    file_id: str
    sha256: str


class RetrievalQueries:
    def __init__(self, db: Database):
        self.db = db

    def state(self) -> dict[str, Any] | None:
        rows = self.db.query(f"SELECT generation, position FROM {STATE_TABLE} WHERE name = ?",
                             (NAME,))
        return rows[0] if rows else None

    def changed_since(self, position: int) -> list[dict[str, Any]]:
        return self.db.query("SELECT collection, chunk_id, file_id, sha256, live, position FROM"
                             " rag_entries WHERE position > ? ORDER BY position", (position,))

    def live_entries(self) -> list[dict[str, Any]]:
        return self.db.query("SELECT collection, chunk_id, file_id, sha256 FROM rag_entries"
                             " WHERE live = 1")

    def files(self, file_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(file_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            for row in self.db.query(f"SELECT file_id, text_hash, chunks FROM rag_files WHERE"
                                     f" file_id IN ({_marks(part)})", part):
                out[row["file_id"]] = {"text_hash": row["text_hash"],
                                       "chunks": json.loads(row["chunks"])}
        return out

    def all_files(self, after: str = "", limit: int = 200) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT file_id, text_hash, chunks FROM rag_files WHERE file_id > ?"
                             " ORDER BY file_id LIMIT ?", (after, limit))
        return [{"file_id": r["file_id"], "text_hash": r["text_hash"],
                 "chunks": json.loads(r["chunks"])} for r in rows]

    def owners(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """The file of each chunk id (chunk ids are derived from their file's id)."""
        ids = [int(c) for c in dict.fromkeys(chunk_ids)]
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            for row in self.db.query(f"SELECT DISTINCT chunk_id, file_id FROM rag_entries WHERE"
                                     f" chunk_id IN ({_marks(part)})", part):
                out[int(row["chunk_id"])] = row["file_id"]
        return out

    def count(self, collection: str) -> int:
        return int(self.db.query("SELECT COUNT(*) AS n FROM rag_entries WHERE collection = ? AND"
                                 " live = 1", (collection,))[0]["n"])


# -- the FAISS mirror -----------------------------------------------------------------------------
VectorSource = Callable[[str, list[Entry]], dict[str, np.ndarray]]
Hit = tuple[str, int, float]  # collection, chunk id, cosine score


def single_threaded_search() -> None:
    """Queries are one vector each: FAISS's OpenMP threads only add wake-up and contention cost.
    Measured on 2 busy cores: 1.4 ms → 0.04 ms for a small collection, 71 → 7.7 ms at 50k
    vectors (docs/retrieval.md). Process-wide; this process's index is the only FAISS user."""
    import faiss

    faiss.omp_set_num_threads(1)


class VectorMirror:
    def __init__(self, db: Database, directory: Path | str, active_model: Callable[[], str],
                 vectors: VectorSource, interval: float = 1.0, save_every: float = 30.0):
        single_threaded_search()
        self.queries = RetrievalQueries(db)
        self.directory = Path(directory)
        self.active_model = active_model
        self.vectors = vectors
        self.interval = interval
        self.save_every = save_every
        self.index: VectorIndex | None = None
        self.model: str | None = None
        self.generation: int | None = None
        self.position = 0
        self.saved_position = 0
        self.reloads = 0
        self._loaded = False
        self._sync_lock = threading.Lock()
        self._swap_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: Any = None
        self._last_save = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Load the snapshot, catch up, and keep following in the background (idempotent)."""
        with self._sync_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name="vector-mirror", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        try:
            if self._thread is not None and self.writer():
                self.save()
        except Exception:
            log.warning("final vector index save failed", exc_info=True)
        finally:
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
                if (self.position != self.saved_position and self.writer()
                        and time.monotonic() - self._last_save >= self.save_every):
                    self.save()
            except Exception:
                log.warning("vector index sync failed", exc_info=True)
            self._stop.wait(self.interval)

    def writer(self) -> bool:
        """Whether this process writes the snapshot (an exclusive lock on a file beside it)."""
        if self._lock_file is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = (self.directory / ".writer.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    # -- following the read model -----------------------------------------------------------
    def sync(self) -> int:
        """Bring the index up to the read model's current state; returns the position covered."""
        with self._sync_lock:
            state = self.queries.state()
            if state is None:
                return self.position
            model = self.active_model()
            if not self._loaded:
                self._loaded = True
                self._load(model, state)
            if int(state["generation"]) != self.generation or model != self.model:
                self._reload(model, state)
                return self.position
            rows = self.queries.changed_since(self.position)
            if rows:
                index = self._apply(self.index, model, rows)
                if index is not self.index:
                    with self._swap_lock:
                        self.index = index
            self.position = max(int(state["position"]), *(int(r["position"]) for r in rows),
                                self.position)
            return self.position

    def _apply(self, index: VectorIndex | None, model: str, rows: list[dict[str, Any]]
               ) -> VectorIndex | None:
        live = [Entry(r["collection"], int(r["chunk_id"]), r["file_id"], r["sha256"])
                for r in rows if int(r.get("live", 1))]
        dead: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            if not int(r.get("live", 1)):
                dead[r["collection"]].append(int(r["chunk_id"]))
        found = self.vectors(model, live) if live else {}
        adds: dict[str, tuple[list[int], list[np.ndarray]]] = defaultdict(lambda: ([], []))
        missing = 0
        for entry in live:
            vector = found.get(entry.sha256)
            if vector is None:
                missing += 1
                dead[entry.collection].append(entry.chunk_id)  # never a stale vector under an id
                continue
            ids, vecs = adds[entry.collection]
            ids.append(entry.chunk_id)
            vecs.append(vector)
        if missing:
            log.warning("vectors missing from the embedding cache", extra={"missing": missing,
                                                                             "model": model})
        if index is None and adds:
            first = next(iter(adds.values()))[1][0]
            index = VectorIndex(dim=int(np.asarray(first).shape[-1]))
        if index is not None:
            for collection, ids in dead.items():
                index.remove(collection, ids)
            for collection, (ids, vecs) in adds.items():
                index.add(collection, ids, np.stack(vecs))
        return index

    def _reload(self, model: str, state: dict[str, Any]) -> None:
        """A fresh index from every live row, swapped in whole (new generation or model)."""
        started = time.perf_counter()
        rows = self.queries.live_entries()
        index = self._apply(None, model, [{**r, "live": 1} for r in rows])
        with self._swap_lock:
            self.index, self.model = index, model
        self.generation = int(state["generation"])
        self.position = int(state["position"])
        self.reloads += 1
        log.info("vector index rebuilt from the read model",
                 extra={"entries": len(rows), "model": model, "position": self.position,
                        "seconds": round(time.perf_counter() - started, 3)})

    # -- queries ----------------------------------------------------------------------------
    def search(self, collections: Sequence[str], vector: np.ndarray, k: int
               ) -> tuple[str | None, list[Hit]]:
        """(model the index holds, best hits over the collections); a chunk found in two
        collections counts once."""
        with self._swap_lock:
            index, model = self.index, self.model
        if index is None:
            return model, []
        best: dict[int, Hit] = {}
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != index.dim:
            return model, []
        for collection in dict.fromkeys(collections):
            for chunk, score in index.search(collection, query, k)[0]:
                if chunk not in best or best[chunk][2] < score:
                    best[chunk] = (collection, chunk, score)
        return model, sorted(best.values(), key=lambda h: -h[2])[:k]

    def count(self, collection: str) -> int:
        index = self.index
        return 0 if index is None else index.count(collection)

    # -- persistence ------------------------------------------------------------------------
    def save(self) -> bool:
        with self._sync_lock:
            index, position = self.index, self.position
            if index is None or self.model is None:
                return False
            self.directory.mkdir(parents=True, exist_ok=True)
            sidecar = {"position": position, "generation": self.generation, "model": self.model,
                       "dim": index.dim}
            _atomic_json(self.directory / SIDECAR, sidecar)
            index.save(self.directory, position)
            self.saved_position = position
            self._last_save = time.monotonic()
            return True

    def _load(self, model: str, state: dict[str, Any]) -> bool:
        """The saved index, when it is this model's, this generation's and not ahead of the log."""
        try:
            sidecar = json.loads((self.directory / SIDECAR).read_text())
            manifest = json.loads((self.directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return False
        usable = (sidecar.get("model") == model and sidecar.get("position") == manifest.get("position")
                  and sidecar.get("generation") == int(state["generation"])
                  and int(sidecar["position"]) <= int(state["position"]))
        if not usable:
            log.info("vector index snapshot not usable; rebuilding from the read model")
            return False
        index = VectorIndex(dim=int(sidecar["dim"]))
        try:
            position = index.load(self.directory)
        except Exception:
            log.warning("vector index snapshot unreadable; rebuilding", exc_info=True)
            return False
        with self._swap_lock:
            self.index, self.model = index, model
        self.generation = int(sidecar["generation"])
        self.position = self.saved_position = position
        log.info("vector index loaded", extra={"position": position, "model": model})
        return True


def _atomic_json(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(value, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
