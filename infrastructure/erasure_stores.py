"""What an erasure purges outside the event log (application.erasure.DerivedStores)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from infrastructure.sql import Database


class ErasureStores:
    def __init__(self, waiter: Any, projections: Sequence[str], sessions: Any,
                 files: Any, storage: Any, chunks: Any, embeddings: Any, ydocs: Any,
                 mirror: Callable[[], Any], databases: Sequence[Database]):
        self.waiter = waiter
        self.projections = list(projections)
        self.sessions = sessions
        self.files = files  # FilesQueries: which blobs live files still reference
        self.storage = storage
        self.chunks = chunks  # RetrievalQueries: which chunk texts live files still hold
        self.embeddings = embeddings
        self.ydocs = ydocs
        self.mirror = mirror
        self.databases = list(databases)

    def wait(self, position: int, timeout: float) -> bool:
        """Also reads the positions other processes' runners wrote: the ones here may be
        standing by while another process holds the leases."""
        deadline = time.monotonic() + timeout
        while not self.waiter.wait(self.projections, position,
                                   max(0.0, min(0.5, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return False
            self.waiter.refresh_positions()
        return True

    def forget_sessions(self, user_id: str, rate_keys: Sequence[str]) -> None:
        self.sessions.forget_user(user_id, rate_keys)

    def shred_unreferenced(self, digests: Iterable[str]) -> int:
        """Blobs are shared by content: another user's identical upload keeps its copy."""
        return sum(1 for d in sorted(digests)
                   if not self.files.referenced(d) and self.storage.shred(d))

    def forget_embeddings(self, hashes: Iterable[str]) -> int:
        wanted = set(hashes)
        if not wanted or self.embeddings is None:
            return 0
        return int(self.embeddings.forget(sorted(wanted - self._chunks_in_use(wanted))))

    def _chunks_in_use(self, hashes: set[str]) -> set[str]:
        used: set[str] = set()
        after = ""
        while rows := self.chunks.all_files(after):
            for row in rows:
                used |= {str(c[3]) for c in row["chunks"]} & hashes
            after = rows[-1]["file_id"]
        return used

    def forget_documents(self, document_ids: Sequence[str]) -> int:
        return int(self.ydocs.delete_documents(list(document_ids))) if document_ids else 0

    def refresh_vectors(self) -> None:
        """The FAISS files on disk follow the read model: rewrite them without the vectors."""
        mirror = self.mirror()
        if mirror is None:
            return
        mirror.sync()
        if mirror.writer():
            mirror.save()

    def scrub(self) -> None:
        for database in self.databases:
            database.scrub()
