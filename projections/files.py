"""The files read model: one row per live file, for lists, filename search, lookups and status.

`processed_position` is the log position of the file's last `Processed` event: the process-status
route reports `completed` once the vector index projection has passed it (searchable, not only
embedded). Extracted text is not in the row: it lives in file storage under `text_hash`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from domain.base import epoch
from domain.erasure import erasure_segments
from domain.file import File
from infrastructure.sql import Database, Tx
from projections.runtime import Event, RowProjector

Row = dict[str, Any]
COLUMNS = ("aid", "id", "user_id", "filename", "filename_lc", "hash", "content_hash", "size",
           "content_type", "meta", "status", "error", "text_hash", "chunk_count", "model",
           "processed_position", "seq", "created_at", "updated_at")


def _text(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def _changed(row: Row | None, event: Any, **values: Any) -> Row | None:
    if row is None:
        return None
    return {**row, **values, "updated_at": epoch(event.timestamp)}


class FilesProjector(RowProjector):
    name = "files"
    version = 1
    tables = ("files",)
    row_table = "files"
    columns = COLUMNS
    event_base = File.Event

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {files} (aid TEXT PRIMARY KEY, id TEXT NOT NULL, user_id TEXT NOT NULL,"
            " filename TEXT NOT NULL, filename_lc TEXT NOT NULL, hash TEXT, content_hash TEXT"
            " NOT NULL, size BIGINT NOT NULL, content_type TEXT, meta TEXT NOT NULL, status TEXT,"
            " error TEXT, text_hash TEXT, chunk_count INTEGER NOT NULL DEFAULT 0, model TEXT,"
            " processed_position BIGINT NOT NULL DEFAULT 0, seq BIGINT NOT NULL,"
            " created_at BIGINT NOT NULL,"
            " updated_at BIGINT NOT NULL)",
            "CREATE UNIQUE INDEX {files}_id ON {files} (id)",
            "CREATE INDEX {files}_user ON {files} (user_id, seq)",
            "CREATE INDEX {files}_seq ON {files} (seq)",
            "CREATE INDEX {files}_content ON {files} (content_hash)",
            "CREATE INDEX {files}_text ON {files} (text_hash)",
        ]

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        for segment, erased in erasure_segments(events):
            self._apply_segment(segment, tx)
            if erased is not None:  # deleted before the erasure: belt and braces
                tx.execute(f"DELETE FROM {self.t['files']} WHERE user_id = ?", (erased,))

    def _apply_segment(self, events: Sequence[Event], tx: Tx) -> None:
        relevant = [(key, position, event) for position, event in events
                    if (key := self.row_key(event)) is not None]
        if not relevant:
            return
        rows = self._load(tx, list(dict.fromkeys(key for key, _, _ in relevant)))
        for key, position, event in relevant:
            self._position = position
            rows[key] = self.apply(event, rows.get(key))
        self._store(tx, rows)

    @singledispatchmethod
    def apply(self, event: Any, row: Row | None) -> Row | None:
        return row

    @apply.register
    def _uploaded(self, event: File.Uploaded, row: Row | None) -> Row | None:
        ts = epoch(event.timestamp)
        name = _text(event.filename)
        return {"aid": str(event.originator_id), "id": event.file_id, "user_id": event.user_id,
                "filename": name, "filename_lc": name.lower(), "hash": None,
                "content_hash": event.content_hash, "size": event.size,
                "content_type": _text(event.content_type), "meta": json.dumps(event.meta),
                "status": "pending" if event.process else None, "error": None,
                "text_hash": None, "chunk_count": 0, "model": None, "processed_position": 0,
                "seq": self._position, "created_at": ts, "updated_at": ts}

    @apply.register
    def _extracted(self, event: File.Extracted, row: Row | None) -> Row | None:
        return _changed(row, event, text_hash=event.text_hash, hash=event.text_hash)

    @apply.register
    def _processed(self, event: File.Processed, row: Row | None) -> Row | None:
        return _changed(row, event, status="completed", error=None, text_hash=event.text_hash,
                        hash=event.text_hash, chunk_count=len(event.chunks), model=event.model,
                        processed_position=self._position)

    @apply.register
    def _retried(self, event: File.ProcessingRetried, row: Row | None) -> Row | None:
        return _changed(row, event, error=_text(event.error))

    @apply.register
    def _failed(self, event: File.ProcessingFailed, row: Row | None) -> Row | None:
        return _changed(row, event, status="failed", error=_text(event.error))

    @apply.register
    def _replaced(self, event: File.ContentReplaced, row: Row | None) -> Row | None:
        return _changed(row, event, status="pending", error=None, text_hash=event.text_hash,
                        hash=event.text_hash)

    @apply.register
    def _deleted(self, event: File.Deleted, row: Row | None) -> Row | None:
        return None

    _position = 0


def decode(row: Row) -> Row:
    """A row as the service hands it on: meta parsed, `data` as the reference shapes it."""
    out = {k: row[k] for k in COLUMNS if k in row}
    out["meta"] = json.loads(row["meta"])
    data: dict[str, Any] = {}
    if row.get("status"):
        data["status"] = row["status"]
        if row["status"] == "failed" and row.get("error"):
            data["error"] = row["error"]
    out["data"] = data
    return out


def wildcard(pattern: str) -> str:
    """A filename pattern with * and ? as a LIKE pattern; % and _ are taken literally."""
    escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


class FilesQueries:
    def __init__(self, db: Database):
        self.db = db

    def get(self, file_id: str) -> Row | None:
        rows = self.db.query("SELECT * FROM files WHERE id = ?", (file_id,))
        return decode(rows[0]) if rows else None

    def many(self, file_ids: Sequence[str]) -> dict[str, Row]:
        out: dict[str, Row] = {}
        ids = list(dict.fromkeys(file_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join("?" for _ in part)
            for row in self.db.query(f"SELECT * FROM files WHERE id IN ({marks})", part):
                out[row["id"]] = decode(row)
        return out

    def names(self, file_ids: Sequence[str]) -> dict[str, str]:
        """The filename of each live file among `file_ids`."""
        return {file_id: row["filename"] for file_id, row in self.many(file_ids).items()}

    def of_user(self, user_id: str | None) -> list[Row]:
        """A user's files (None: everyone's), oldest first as the reference."""
        if user_id is None:
            rows = self.db.query("SELECT * FROM files ORDER BY seq")
        else:
            rows = self.db.query("SELECT * FROM files WHERE user_id = ? ORDER BY seq",
                                 (user_id,))
        return [decode(r) for r in rows]

    def search(self, user_id: str | None, pattern: str, skip: int, limit: int) -> list[Row]:
        where, params = "filename_lc LIKE ? ESCAPE '\\'", [wildcard(pattern)]
        if user_id is not None:
            where += " AND user_id = ?"
            params.append(user_id)
        rows = self.db.query(f"SELECT * FROM files WHERE {where} ORDER BY seq"
                             f" LIMIT {int(limit)} OFFSET {int(skip)}", params)
        return [decode(r) for r in rows]

    def ids(self) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM files ORDER BY seq")]

    def pending(self) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM files WHERE status = 'pending'"
                                               " ORDER BY seq")]

    def referenced(self, digest: str) -> bool:
        rows = self.db.query("SELECT 1 AS x FROM files WHERE content_hash = ? OR text_hash = ?"
                             " LIMIT 1", (digest, digest))
        return bool(rows)

    def same_text(self, text_hash: str, file_ids: Sequence[str]) -> list[str]:
        ids = list(file_ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        return [r["id"] for r in self.db.query(
            f"SELECT id FROM files WHERE hash = ? AND id IN ({marks})", [text_hash, *ids])]
