"""The File aggregate: an uploaded file's metadata, its content hash and its processing stages.

The bytes never enter the log: the aggregate holds the sha256 of the upload (the storage key) and,
once text was extracted, the sha256 of the text (also a storage key). Processing records each stage:

  Uploaded ─▶ Extracted(text_hash) ─▶ Processed(chunks, model)        status pending ─▶ completed
                   │                        ▲
                   └── ProcessingRetried ───┘ (transient failure, attempt n; status stays pending)
                   └── ProcessingFailed (permanent, or retries exhausted)     status ─▶ failed
  ContentReplaced(text_hash) (an edit of the extracted text) ─▶ pending again ─▶ Processed

Chunks are recorded as compact [chunk_id, start, end, sha256(text)] rows: the vectors live in the
embedding cache under (model, sha256) and the FAISS projection reads them from there.
The aggregate also knows the knowledge bases it belongs to, so deleting a file and adding it to a
knowledge base are serialised by its version (no knowledge base keeps a deleted file).
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, epoch

FILE_NAMESPACE = uuid5(NAMESPACE_URL, "chronicle:file")
PENDING, COMPLETED, FAILED = "pending", "completed", "failed"
INT63 = (1 << 63) - 1


class FileError(ValueError):
    pass


class FileDeletedError(FileError, DeletedError):
    pass


class StaleProcessing(FileError):
    """The text a job worked on is no longer the file's text (it was replaced meanwhile)."""


def file_uuid(file_id: str) -> UUID:
    """Aggregate id of a file: derived, so any client-sent id string maps to a File or to nothing."""
    return uuid5(FILE_NAMESPACE, file_id)


def chunk_id(file_id: str, index: int) -> int:
    """Deterministic positive int64 id of a file's index-th chunk (FAISS reserves -1)."""
    digest = hashlib.sha256(f"{file_id}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & INT63 or 1


def collection_of(file_id: str) -> str:
    """The reference's vector collection name of one file."""
    return f"file-{file_id}"


Chunk = list[Any]  # [chunk_id, start, end, sha256]


class File(SoftDeleted, Aggregate):
    deleted_error = FileDeletedError
    deleted_message = "file is deleted"

    @staticmethod
    def create_id(file_id: str, **_: Any) -> UUID:
        return file_uuid(file_id)

    @event("Uploaded")
    def __init__(self, file_id: str, user_id: str, filename: str, content_hash: str, size: int,
                 content_type: str | None, meta: dict[str, Any], process: bool):
        self.file_id = file_id
        self.user_id = user_id
        self.filename = filename
        self.content_hash = content_hash
        self.size = size
        self.content_type = content_type
        self.meta = meta
        self.status: str | None = PENDING if process else None
        self.error: str | None = None
        self.attempts = 0
        self.text_hash: str | None = None
        self.chars = 0
        self.chunks: list[Chunk] = []
        self.model: str | None = None
        self.chunking: list[int] | None = None
        self.knowledge_ids: list[str] = []
        self.deleted = False
        self.created_at = epoch(self.created_on)
        self.updated_at = self.created_at

    @property
    def owner_id(self) -> str:
        return self.user_id

    def _touch(self) -> None:
        self.updated_at = epoch(self.modified_on)

    # -- processing stages ------------------------------------------------------------------
    def record_extracted(self, text_hash: str, chars: int) -> None:
        self._live()
        if self.text_hash == text_hash:
            return  # a job run twice
        if self.text_hash is not None:
            raise StaleProcessing("the file's text was set meanwhile")
        self._extracted(text_hash, chars)

    @event("Extracted")
    def _extracted(self, text_hash: str, chars: int) -> None:
        self.text_hash = text_hash
        self.chars = chars
        self._touch()

    def is_processed(self, text_hash: str, model: str, chunking: list[int]) -> bool:
        return (self.status == COMPLETED and self.text_hash == text_hash and self.model == model
                and self.chunking == list(chunking))

    def record_processed(self, text_hash: str, chunks: list[Chunk], model: str,
                         chunking: list[int]) -> bool:
        """Chunked and embedded; False when this was already recorded (idempotent)."""
        self._live()
        if self.text_hash != text_hash:
            raise StaleProcessing("the file's text changed while it was processed")
        if self.is_processed(text_hash, model, chunking):
            return False
        self._processed(self.file_id, text_hash, chunks, model, list(chunking))
        return True

    @event("Processed")
    def _processed(self, file_id: str, text_hash: str, chunks: list[Chunk], model: str,
                   chunking: list[int]) -> None:
        self.chunks = chunks
        self.model = model
        self.chunking = chunking
        self.status = COMPLETED
        self.error = None
        self.attempts = 0
        self._touch()

    def record_retry(self, error: str, stage: str, attempt: int, delay: float) -> None:
        self._live()
        if self.status == PENDING:
            self._retried(error[:2000], stage, attempt, delay)

    @event("ProcessingRetried")
    def _retried(self, error: str, stage: str, attempt: int, delay: float) -> None:
        self.error = error
        self.attempts = attempt
        self._touch()

    def record_failed(self, error: str, stage: str) -> None:
        self._live()
        if self.status == PENDING:
            self._failed(error[:2000], stage)

    @event("ProcessingFailed")
    def _failed(self, error: str, stage: str) -> None:
        self.status = FAILED
        self.error = error
        self._touch()

    def replace_content(self, text_hash: str, chars: int) -> bool:
        """New extracted text (an edit): the file is processed again from it."""
        self._live()
        if text_hash == self.text_hash and self.status == COMPLETED:
            return False
        self._content_replaced(text_hash, chars)
        return True

    @event("ContentReplaced")
    def _content_replaced(self, text_hash: str, chars: int) -> None:
        self.text_hash = text_hash
        self.chars = chars
        self.status = PENDING
        self.error = None
        self.attempts = 0
        self._touch()

    # -- knowledge bases --------------------------------------------------------------------
    def link_knowledge(self, knowledge_id: str) -> None:
        self._live()
        if knowledge_id not in self.knowledge_ids:
            self._linked(knowledge_id)

    @event("LinkedToKnowledge")
    def _linked(self, knowledge_id: str) -> None:
        self.knowledge_ids = [*self.knowledge_ids, knowledge_id]

    def unlink_knowledge(self, knowledge_id: str) -> None:
        if not self.deleted and knowledge_id in self.knowledge_ids:
            self._unlinked(knowledge_id)

    @event("UnlinkedFromKnowledge")
    def _unlinked(self, knowledge_id: str) -> None:
        self.knowledge_ids = [k for k in self.knowledge_ids if k != knowledge_id]

    # -- deletion ---------------------------------------------------------------------------
    def delete(self) -> None:
        self._live()
        self._deleted(self.file_id, list(self.knowledge_ids))

    @event("Deleted")
    def _deleted(self, file_id: str, knowledge_ids: list[str]) -> None:
        self.deleted = True
        self.knowledge_ids = []
        self._touch()
