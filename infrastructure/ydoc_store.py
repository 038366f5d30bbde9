"""Durable Yjs updates of collaborative documents, shared by every API worker.

Updates are per-keystroke binary CRDT deltas: far too chatty for the event log (every projector
would read them), and their durable meaning — the note's text — reaches the log when the notes
feature saves the note. They are kept here, in their own database (not a read model: nothing
rebuilds them), and compacted: once a document has many rows they are merged into one state
update. Yjs updates commute, so a merge may race with appends from another worker.
"""

from __future__ import annotations

import time

import pycrdt

from infrastructure.sql import Database

TABLE = "ydoc_updates"


class YdocStore:
    def __init__(self, db: Database, compact_after: int = 200):
        self.db = db
        self.compact_after = compact_after
        key = "BIGSERIAL PRIMARY KEY" if db.dialect == "postgres" else \
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        blob = "BYTEA" if db.dialect == "postgres" else "BLOB"
        with db.transaction() as tx:
            tx.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id {key}, document_id TEXT NOT NULL, "
                       f"update_data {blob} NOT NULL, created_at DOUBLE PRECISION NOT NULL)")
            tx.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_doc ON {TABLE} (document_id, id)")

    def append(self, document_id: str, update: bytes) -> None:
        with self.db.transaction() as tx:
            tx.execute(f"INSERT INTO {TABLE} (document_id, update_data, created_at) "
                       f"VALUES (?, ?, ?)", (document_id, update, time.time()))
            count = tx.execute(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE document_id = ?",
                               (document_id,))[0]["n"]
        if count > self.compact_after:
            self.compact(document_id)

    def state(self, document_id: str) -> bytes:
        """The whole document as one update: what a late joiner applies to an empty Y.Doc."""
        rows = self.db.query(f"SELECT update_data FROM {TABLE} WHERE document_id = ? ORDER BY id",
                             (document_id,))
        return merged([bytes(r["update_data"]) for r in rows])

    def exists(self, document_id: str) -> bool:
        return bool(self.db.query(f"SELECT 1 AS x FROM {TABLE} WHERE document_id = ? LIMIT 1",
                                  (document_id,)))

    def compact(self, document_id: str) -> None:
        with self.db.transaction() as tx:
            rows = tx.execute(f"SELECT id, update_data FROM {TABLE} WHERE document_id = ? "
                              f"ORDER BY id FOR UPDATE", (document_id,))
            if len(rows) <= 1:
                return
            state = merged([bytes(r["update_data"]) for r in rows])
            tx.execute(f"DELETE FROM {TABLE} WHERE document_id = ? AND id <= ?",
                       (document_id, rows[-1]["id"]))
            tx.execute(f"INSERT INTO {TABLE} (document_id, update_data, created_at) "
                       f"VALUES (?, ?, ?)", (document_id, state, time.time()))

    def delete_documents(self, document_ids: list[str]) -> int:
        """Forget documents for good (an erasure): the rows, and their copies in the files."""
        removed = 0
        with self.db.transaction() as tx:
            for start in range(0, len(document_ids), 500):
                part = document_ids[start : start + 500]
                marks = ", ".join("?" for _ in part)
                removed += len(tx.execute(f"DELETE FROM {TABLE} WHERE document_id IN ({marks})"
                                          f" RETURNING id", part))
        self.db.scrub()
        return removed

    def close(self) -> None:
        self.db.close()


def merged(updates: list[bytes]) -> bytes:
    doc: pycrdt.Doc = pycrdt.Doc()
    for update in updates:
        doc.apply_update(update)
    return doc.get_update()


def check_update(update: bytes) -> None:
    """Raise ValueError unless `update` decodes as a Yjs update (its dependencies may be missing)."""
    pycrdt.Doc().apply_update(update)
