"""File use cases: upload, reads, content, edits and deletion, and the processing pipeline (a job).

Pipeline (`process`, run by the `files.process` job or inline): extract text (hostile formats in a
killable child process) → store the text content-addressed → chunk (CHUNK_SIZE / CHUNK_OVERLAP of
the retrieval config) → embed through the cache → record `Processed` with the chunk list. Each
stage is recorded on the File, so a retry resumes after the last recorded stage. A bad file
(unsupported, corrupt, hostile, empty) fails at once with a readable error; anything else
(an embedding endpoint down, a database restarting) is retried with exponential backoff, then
fails. The job is idempotent: it does nothing for a file no longer pending, and recording a
stage twice records nothing.

Access follows the reference: the owner and admins, plus readers of a knowledge base that holds
the file (read only). Anything else answers 404, as for a file that does not exist.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from application.access import GroupMembership, Viewer
from application.auth import Principal
from application.commands import CommandRunner, Outcome
from application.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMedia
from application.messages import Detail
from application.ports import EventStorePort, FileStorage, JobQueue, ProjectionWaiter, TooLarge
from application.retrieval import INDEX_PROJECTION, RetrievalService
from domain.file import COMPLETED, PENDING, File, FileDeletedError, StaleProcessing, chunk_id, file_uuid
from domain.knowledge import KnowledgeBase, knowledge_uuid

log = logging.getLogger("chronicle.files")

Row = dict[str, Any]
MEDIA_PREFIXES = ("image/", "video/", "audio/")  # stored, never processed (no OCR or STT here)
MAX_ATTEMPTS = 5
COLLECT_GRACE = 600.0  # seconds an unreferenced blob is kept (an identical upload may be landing)
FILENAME_MAX_BYTES = 255
CONTENT_TYPE_MAX = 255
CONTENT_MAX_CHARS = 20_000_000
NO_MATCH = "No files found matching the pattern."  # upstream (routers/files.py search_files)


class FilesReadModel(Protocol):
    def get(self, file_id: str) -> Row | None: ...

    def many(self, file_ids: Sequence[str]) -> dict[str, Row]: ...

    def of_user(self, user_id: str | None) -> list[Row]: ...

    def search(self, user_id: str | None, pattern: str, skip: int, limit: int) -> list[Row]: ...

    def ids(self) -> list[str]: ...

    def pending(self) -> list[str]: ...

    def referenced(self, digest: str) -> bool: ...

    def same_text(self, text_hash: str, file_ids: Sequence[str]) -> list[str]: ...


class KnowledgeFileAccess(Protocol):
    def file_readable(self, file_id: str, viewer: Viewer) -> bool: ...


class UserRoles(Protocol):
    def get(self, user_id: str) -> Row | None: ...


@dataclass(frozen=True)
class Pipeline:
    detect: Callable[[str, str | None], str]  # the extractor's kind; ValueError if unsupported
    extract: Callable[[bytes, str, str | None], str]  # text; ValueError for a bad file
    chunk: Callable[[str, int, int], Sequence[Any]]  # pieces with .start and .text


class Unprocessable(ValueError):
    """A file that can never be processed as it is (a permanent failure)."""


def text_sha256(text: str) -> str:
    """The embedding cache's key of a text (infrastructure.embeddings.text_sha256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sanitize_filename(name: str | None) -> str:
    """The last path component, printable characters only, at most 255 bytes (extension kept)."""
    base = (name or "").replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFC", "".join(c for c in base if c.isprintable())).strip()
    if base in ("", ".", ".."):
        return "file"
    if len(base.encode()) > FILENAME_MAX_BYTES:
        stem, dot, ext = base.rpartition(".")
        ext = ext if dot and len(ext.encode()) <= 16 else ""
        room = FILENAME_MAX_BYTES - len(ext.encode()) - (1 if ext else 0)
        stem = (stem if ext else base).encode()[:room].decode(errors="ignore")
        base = f"{stem}.{ext}" if ext else stem
    return base


def normalise_content_type(content_type: str | None, filename: str) -> str:
    value = "".join(c for c in (content_type or "") if c.isprintable()).strip()[:CONTENT_TYPE_MAX]
    if not value or value.lower() == "application/octet-stream":
        guessed = mimetypes.guess_type(filename)[0]
        value = guessed or value or "application/octet-stream"
    return value


def plausible_id(value: str) -> bool:
    """Ids are ours (uuid4 strings): anything with NUL or of absurd length names nothing."""
    return 0 < len(value) <= 255 and "\x00" not in value


def _readable(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text[:2000]


class FileService:
    def __init__(self, store: EventStorePort, runner: CommandRunner, files: FilesReadModel,
                 knowledge: KnowledgeFileAccess, users: UserRoles, groups: GroupMembership,
                 storage: FileStorage, jobs: JobQueue, pipeline: Pipeline,
                 retrieval: RetrievalService, waiter: ProjectionWaiter, head: Callable[[], int],
                 projection_position: Callable[[str], int]):
        self.store = store
        self.runner = runner
        self.files = files
        self.knowledge = knowledge
        self.users = users
        self.groups = groups
        self.storage = storage
        self.jobs = jobs
        self.pipeline = pipeline
        self.retrieval = retrieval
        self.waiter = waiter
        self.head = head
        self.projection_position = projection_position
        self.retry_base = 2.0  # seconds; the n-th retry waits retry_base * 4**n (capped)
        self.collect_grace = COLLECT_GRACE

    # -- who --------------------------------------------------------------------------------
    def viewer(self, principal: Principal) -> Viewer:
        return Viewer(principal.id, tuple(self.groups.group_ids(principal.id)))

    def readable(self, principal: Principal, row: Row) -> bool:
        return (principal.is_admin or row["user_id"] == principal.id
                or self.knowledge.file_readable(row["id"], self.viewer(principal)))

    def writable(self, principal: Principal, owner_id: str) -> bool:
        return principal.is_admin or owner_id == principal.id

    # -- loading ----------------------------------------------------------------------------
    def aggregate(self, file_id: str) -> File | None:
        found = self.store.get(file_uuid(file_id))
        return found if isinstance(found, File) else None

    def _live(self, file_id: str) -> File:
        file = self.aggregate(file_id)
        if file is None or file.deleted:
            raise NotFound(Detail.NOT_FOUND)
        return file

    def row(self, principal: Principal, file_id: str) -> Row:
        row = self.files.get(file_id) if plausible_id(file_id) else None
        if row is None or not self.readable(principal, row):
            raise NotFound(Detail.NOT_FOUND)
        return row

    # -- upload -----------------------------------------------------------------------------
    def upload(self, principal: Principal, filename: str | None, content_type: str | None,
               chunks: Iterable[bytes], metadata: dict[str, Any] | None, process: bool = True,
               background: bool = True) -> Outcome[File]:
        name = sanitize_filename(filename)
        ctype = normalise_content_type(content_type, name)
        processable = process and not ctype.lower().startswith(MEDIA_PREFIXES)
        self._check_type(name, ctype, processable)
        limit = self.retrieval.max_file_bytes()
        try:
            digest, size = self.storage.put_stream(chunks, limit)
        except TooLarge:
            raise PayloadTooLarge(Detail.FILE_TOO_LARGE(self._limit_text())) from None
        file_id = str(uuid.uuid4())
        meta = {"name": name, "content_type": ctype, "size": size, "data": metadata or {}}

        def decide() -> tuple[File, list[Any]]:
            file = File(file_id=file_id, user_id=principal.id, filename=name,
                        content_hash=digest, size=size, content_type=ctype, meta=meta,
                        process=processable)
            return file, [file]

        outcome = self.runner.run("files.upload", decide)
        if processable:
            if background:
                self.jobs.enqueue("files.process", file_id=file_id)
            else:
                _, position = self.process(file_id)
                outcome = Outcome(self._live(file_id), max(outcome.position, position))
        return outcome

    def _limit_text(self) -> str:
        value = self.retrieval.rag_config().get("FILE_MAX_SIZE")
        return f"{value}MB"

    def _check_type(self, name: str, ctype: str, processable: bool) -> None:
        allowed = self.retrieval.allowed_extensions()
        extension = name.rpartition(".")[2].lower() if "." in name else ""
        if allowed and extension not in allowed:
            raise UnsupportedMedia(Detail.FILE_NOT_SUPPORTED)
        if processable:
            try:
                self.pipeline.detect(name, ctype)
            except ValueError:
                raise UnsupportedMedia(Detail.FILE_NOT_SUPPORTED) from None

    # -- the pipeline (a job) ---------------------------------------------------------------
    def process(self, file_id: str, attempt: int = 0) -> tuple[str, int]:
        """Run the pipeline on a pending file; (outcome, last log position written)."""
        file = self.aggregate(file_id)
        if file is None or file.deleted or file.status != PENDING:
            return "skipped", 0
        position, stage = 0, "extraction"
        try:
            text_hash = file.text_hash
            if text_hash is None:
                data = self.storage.get(file.content_hash)
                text = self.pipeline.extract(data, file.filename, file.content_type)
                text = text.replace("\x00", "")
                if not text.strip():
                    raise Unprocessable(Detail.EMPTY_CONTENT)
                extracted = text_hash = self.storage.put(text.encode("utf-8"))
                chars = len(text)
                position = self._record(file_id, lambda f: f.record_extracted(extracted, chars))
            else:
                text = self.storage.get(text_hash).decode("utf-8")
            stage = "chunking"
            size, overlap = self.retrieval.chunking()
            pieces = list(self.pipeline.chunk(text, size, overlap))
            if not pieces:
                raise Unprocessable(Detail.EMPTY_CONTENT)
            chunks = [[chunk_id(file_id, i), p.start, p.start + len(p.text), text_sha256(p.text)]
                      for i, p in enumerate(pieces)]
            stage = "embedding"
            model = self.retrieval.embed_chunks([p.text for p in pieces])
            stage = "indexing"
            done_hash = text_hash
            position = self._record(file_id, lambda f: f.record_processed(
                done_hash, chunks, model, [size, overlap])) or position
            return COMPLETED, position
        except (StaleProcessing, FileDeletedError, NotFound):
            return "superseded", position  # deleted, or new text whose own run follows
        except ValueError as error:  # the file itself: unsupported, corrupt, hostile or empty
            log.info("file processing failed", extra={"file_id": file_id, "stage": stage,
                                                      "error": _readable(error)})
            return "failed", self._fail(file_id, _readable(error), stage) or position
        except Exception as error:  # the environment: retry with backoff, then give up
            log.warning("file processing error", exc_info=True,
                        extra={"file_id": file_id, "stage": stage, "attempt": attempt})
            message = f"{stage} failed: {_readable(error)}"
            if attempt + 1 >= MAX_ATTEMPTS:
                return "failed", self._fail(file_id, message, stage) or position
            delay = min(600.0, self.retry_base * 4 ** attempt)
            try:
                self._record(file_id, lambda f: f.record_retry(message, stage, attempt + 1, delay))
            finally:
                self.jobs.enqueue("files.process", file_id=file_id, attempt=attempt + 1,
                                  delay=delay)
            return "retrying", position

    def _record(self, file_id: str, change: Callable[[File], Any]) -> int:
        def decide() -> tuple[None, list[Any]]:
            file = self._live(file_id)
            change(file)
            return None, [file]

        return self.runner.run("files.process", decide).position

    def _fail(self, file_id: str, error: str, stage: str) -> int:
        try:
            return self._record(file_id, lambda f: f.record_failed(error, stage))
        except (NotFound, FileDeletedError):
            return 0

    def resume_pending(self, timeout: float = 30.0) -> int:
        """Enqueue every pending file (a crash may have lost its job; running one twice is
        harmless). Returns how many were enqueued."""
        head = self.head()
        if head <= 0:
            return 0  # an empty log: nothing can be pending
        self.waiter.wait(["files"], head, timeout)
        try:
            pending = self.files.pending()
        except Exception:  # the read model is not there yet (first start) or not reachable
            log.warning("could not look for pending files", exc_info=True)
            return 0
        for file_id in pending:
            self.jobs.enqueue("files.process", file_id=file_id)
        return len(pending)

    # -- reads ------------------------------------------------------------------------------
    def listing(self, principal: Principal, content: bool = True) -> list[Row]:
        rows = self.files.of_user(None if principal.is_admin else principal.id)
        return self.with_content(rows) if content else rows

    def search(self, principal: Principal, pattern: str, content: bool = True, skip: int = 0,
               limit: int = 100) -> list[Row]:
        rows = self.files.search(None if principal.is_admin else principal.id,
                                 pattern.replace("\x00", ""), skip, limit)
        if not rows:
            raise NotFound(NO_MATCH)
        return self.with_content(rows) if content else rows

    def with_content(self, rows: list[Row]) -> list[Row]:
        for row in rows:
            text = self._text(row.get("text_hash"))
            if text is not None:
                row["data"] = {**row["data"], "content": text}
        return rows

    def _text(self, text_hash: str | None) -> str | None:
        if not text_hash:
            return None
        try:
            return self.storage.get(text_hash).decode("utf-8")
        except (OSError, ValueError):
            return None

    def get(self, principal: Principal, file_id: str) -> Row:
        row = self.row(principal, file_id)
        row["path"] = self.storage.key(row["content_hash"])
        return self.with_content([row])[0]

    def content(self, principal: Principal, file_id: str) -> Row:
        """The row of a file whose bytes the caller may download (404 otherwise)."""
        row = self.row(principal, file_id)
        if not self.storage.exists(row["content_hash"]):
            raise NotFound(Detail.NOT_FOUND)
        return row

    def html(self, principal: Principal, file_id: str) -> Row:
        """As content, but only files an admin uploaded are served as HTML (the reference's
        guard against stored cross-site scripting)."""
        row = self.content(principal, file_id)
        owner = self.users.get(row["user_id"])
        if owner is None or owner.get("role") != "admin":
            raise NotFound(Detail.NOT_FOUND)
        return row

    def data_content(self, principal: Principal, file_id: str) -> dict[str, Any]:
        row = self.row(principal, file_id)
        return {"content": self._text(row.get("text_hash")) or ""}

    def status(self, principal: Principal, file_id: str, wait: float = 2.0) -> dict[str, Any]:
        """The processing status; `completed` once the file is also searchable (the vector index
        projection has applied its `Processed`)."""
        return self.status_of(self.row(principal, file_id), wait)

    def status_of(self, row: Row, wait: float = 2.0) -> dict[str, Any]:
        status = row.get("status") or PENDING
        if status == COMPLETED:
            target = int(row.get("processed_position") or 0)
            if self.projection_position(INDEX_PROJECTION) < target and \
                    not self.waiter.wait([INDEX_PROJECTION], target, wait):
                status = PENDING
        out: dict[str, Any] = {"status": status}
        if status == "failed":
            out["error"] = row.get("error")
        return out

    # -- edits ------------------------------------------------------------------------------
    def update_content(self, principal: Principal, file_id: str, content: str
                       ) -> Outcome[dict[str, Any]]:
        """New extracted text: stored, then chunked, embedded and indexed again (inline, as the
        reference)."""
        file = self._live(file_id)
        if not self.writable(principal, file.user_id):
            raise NotFound(Detail.NOT_FOUND)
        text = content.replace("\x00", "")
        if not text.strip():
            raise BadRequest(Detail.EMPTY_CONTENT)
        if len(text) > CONTENT_MAX_CHARS:
            raise PayloadTooLarge(Detail.FILE_TOO_LARGE(f"{CONTENT_MAX_CHARS} characters"))
        text_hash = self.storage.put(text.encode("utf-8"))
        replaced: list[str] = []

        def decide() -> tuple[bool, list[Any]]:
            replaced.clear()
            current = self._live(file_id)
            if current.text_hash and current.text_hash != text_hash:
                replaced.append(current.text_hash)
            return current.replace_content(text_hash, len(text)), [current]

        outcome = self.runner.run("files.update_content", decide)
        position = outcome.position
        if outcome.value:
            _, processed = self.process(file_id)
            position = max(position, processed)
        self.collect_later(replaced)  # the previous text, unless another file has it too
        return Outcome({"content": text}, position)

    # -- deletion ---------------------------------------------------------------------------
    def delete(self, principal: Principal, file_id: str) -> Outcome[bool]:
        doomed: list[str] = []

        def decide() -> tuple[bool, list[Any]]:
            doomed.clear()
            file = self._live(file_id)
            if not self.writable(principal, file.user_id):
                raise NotFound(Detail.NOT_FOUND)
            doomed.extend(h for h in (file.content_hash, file.text_hash) if h)
            return True, self._deletion(file, {})

        outcome = self.runner.run("files.delete", decide)
        self.collect_later(doomed)
        return outcome

    def _deletion(self, file: File, kbs: dict[str, Any]) -> list[Any]:
        """The file deleted and removed from every knowledge base holding it (one save).
        `kbs` shares the knowledge bases loaded by one command across its files."""
        touched: list[Any] = []
        for knowledge_id in file.knowledge_ids:
            if knowledge_id not in kbs:
                kbs[knowledge_id] = self.store.get(knowledge_uuid(knowledge_id))
            kb = kbs[knowledge_id]
            if isinstance(kb, KnowledgeBase) and not kb.deleted and kb.remove_file(file.file_id):
                touched.append(kb)
        file.delete()
        return [file, *touched]

    def delete_all(self) -> Outcome[bool]:
        """Every file (admin): in batches, each batch one atomic save.

        "All" means every file uploaded before this request, by anyone: the read model that
        lists them is first brought up to the log's head (bounded, as read-your-writes)."""
        position, doomed = 0, []
        self.waiter.wait(["files"], self.head(), 5.0)
        ids = self.files.ids()
        for start in range(0, len(ids), 100):
            batch = ids[start : start + 100]

            def decide(batch: list[str] = batch) -> tuple[list[str], list[Any]]:
                touched: list[Any] = []
                hashes: list[str] = []
                kbs: dict[str, Any] = {}
                for file_id in batch:
                    file = self.aggregate(file_id)
                    if file is None or file.deleted:
                        continue
                    hashes += [h for h in (file.content_hash, file.text_hash) if h]
                    touched += self._deletion(file, kbs)
                return hashes, _unique(touched)

            outcome = self.runner.run("files.delete_all", decide)
            position = max(position, outcome.position)
            doomed += outcome.value
        self.collect_later(doomed)
        return Outcome(True, position)

    def collect_later(self, digests: Sequence[str]) -> None:
        wanted = sorted(set(digests))
        if wanted:
            self.jobs.enqueue("files.collect", digests=wanted, delay=1.0)

    def collect(self, digests: Sequence[str], attempt: int = 0) -> list[str]:
        """Delete blobs no live file references (a job). Blobs written recently are kept a
        while: an identical upload may be about to reference them."""
        if not self.waiter.wait(["files"], self.head(), 30.0):
            if attempt < MAX_ATTEMPTS:
                self.jobs.enqueue("files.collect", digests=list(digests), attempt=attempt + 1,
                                  delay=30.0)
            return []
        deleted, later = [], []
        for digest in digests:
            if self.files.referenced(digest):
                continue
            age = self.storage.age(digest)
            if age is None:
                continue
            if age < self.collect_grace:
                later.append(digest)
            elif self.storage.delete(digest):
                deleted.append(digest)
        if later:
            self.jobs.enqueue("files.collect", digests=later, delay=self.collect_grace)
        return deleted


def _unique(aggregates: list[Any]) -> list[Any]:
    seen: dict[Any, Any] = {}
    for aggregate in aggregates:
        seen.setdefault(aggregate.id, aggregate)
    return list(seen.values())
