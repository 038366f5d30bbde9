"""The knowledge read model: knowledge bases, their access grants and their files.

Tables:
  knowledge         one row per live knowledge base (key: the aggregate id; `id` the client's id)
  knowledge_access  (aid, principal, permission) for every grant (see domain.model.grants);
                    lists filter on it like the models read model does
  knowledge_files   (kid, file_id, added_at): a knowledge base's files, in the order added
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from application.access import Viewer
from domain.access import grants, normalize_access_control, principals
from domain.base import epoch
from domain.erasure import erasure_segments
from domain.knowledge import KnowledgeBase
from infrastructure.sql import Database, Tx
from projections.runtime import Event, RowProjector

Row = dict[str, Any]
COLUMNS = ("aid", "id", "user_id", "name", "description", "meta", "access_control", "created_at",
           "updated_at")
FILE_COLUMNS = "f.id, f.hash, f.meta, f.created_at, f.updated_at"


def _text(value: Any) -> str:
    return str(value or "").replace("\x00", "")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class KnowledgeProjector(RowProjector):
    name = "knowledge"
    version = 3  # 3: Updated (name and description)
    tables = ("knowledge", "knowledge_access", "knowledge_files")
    row_table = "knowledge"
    columns = COLUMNS
    event_base = KnowledgeBase.Event

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {knowledge} (aid TEXT PRIMARY KEY, id TEXT NOT NULL, user_id TEXT NOT"
            " NULL, name TEXT NOT NULL, description TEXT NOT NULL, meta TEXT, access_control TEXT,"
            " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            "CREATE UNIQUE INDEX {knowledge}_id ON {knowledge} (id)",
            "CREATE INDEX {knowledge}_user ON {knowledge} (user_id, updated_at)",
            "CREATE TABLE {knowledge_access} (aid TEXT NOT NULL, principal TEXT NOT NULL,"
            " permission TEXT NOT NULL, PRIMARY KEY (aid, principal, permission))",
            "CREATE INDEX {knowledge_access}_principal ON {knowledge_access}"
            " (principal, permission, aid)",
            "CREATE TABLE {knowledge_files} (kid TEXT NOT NULL, file_id TEXT NOT NULL,"
            " added_at BIGINT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (kid, file_id))",
            "CREATE INDEX {knowledge_files}_file ON {knowledge_files} (file_id)",
        ]

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        for segment, erased in erasure_segments(events):
            self._apply_segment(segment, tx)
            if erased is not None:
                self._erase(tx, erased)

    def _erase(self, tx: Tx, user_id: str) -> None:
        """An erased user's knowledge bases (deleted before the erasure: belt and braces)."""
        knowledge = self.t["knowledge"]
        tx.execute(f"DELETE FROM {self.t['knowledge_files']} WHERE kid IN (SELECT id FROM"
                   f" {knowledge} WHERE user_id = ?)", (user_id,))
        tx.execute(f"DELETE FROM {self.t['knowledge_access']} WHERE aid IN (SELECT aid FROM"
                   f" {knowledge} WHERE user_id = ?)", (user_id,))
        tx.execute(f"DELETE FROM {knowledge} WHERE user_id = ?", (user_id,))

    def _apply_segment(self, events: Sequence[Event], tx: Tx) -> None:
        relevant = [(key, position, event) for position, event in events
                    if (key := self.row_key(event)) is not None]
        if not relevant:
            return
        rows = self._load(tx, list(dict.fromkeys(key for key, _, _ in relevant)))
        files = self.t["knowledge_files"]
        for key, position, event in relevant:
            rows[key] = self.apply(event, rows.get(key))
            name = type(event).__name__
            if name == "FileAdded":
                tx.execute(f"INSERT INTO {files} (kid, file_id, added_at, seq) VALUES (?, ?, ?, ?)"
                           f" ON CONFLICT (kid, file_id) DO NOTHING",
                           (event.knowledge_id, event.file_id, epoch(event.timestamp), position))
            elif name == "FileRemoved":
                tx.execute(f"DELETE FROM {files} WHERE kid = ? AND file_id = ?",
                           (event.knowledge_id, event.file_id))
            elif name == "Deleted":
                tx.execute(f"DELETE FROM {files} WHERE kid = ?", (event.knowledge_id,))
        self._store(tx, rows)
        access = self.t["knowledge_access"]
        tx.executemany(f"DELETE FROM {access} WHERE aid = ?", [(k,) for k in rows])
        tx.executemany(f"INSERT INTO {access} (aid, principal, permission) VALUES (?, ?, ?)",
                       [(k, p, perm) for k, r in rows.items() if r is not None
                        for p, perm in sorted(_grants(r))])

    @singledispatchmethod
    def apply(self, event: Any, row: Row | None) -> Row | None:
        return row

    @apply.register
    def _created(self, event: KnowledgeBase.Created, row: Row | None) -> Row | None:
        created: Any = event  # the decorator's event class: attributes are its arguments
        ts = epoch(event.timestamp)
        access = normalize_access_control(created.access_control)
        return {"aid": str(event.originator_id), "id": created.knowledge_id,
                "user_id": created.user_id, "name": _text(created.name),
                "description": _text(created.description),
                "meta": None if created.meta is None else json.dumps(created.meta),
                "access_control": None if access is None else json.dumps(access),
                "created_at": ts, "updated_at": ts}

    def _touched(self, event: Any, row: Row | None) -> Row | None:
        return None if row is None else {**row, "updated_at": epoch(event.timestamp)}

    @apply.register
    def _added(self, event: KnowledgeBase.FileAdded, row: Row | None) -> Row | None:
        return self._touched(event, row)

    @apply.register
    def _removed(self, event: KnowledgeBase.FileRemoved, row: Row | None) -> Row | None:
        return self._touched(event, row)

    @apply.register
    def _updated(self, event: KnowledgeBase.Updated, row: Row | None) -> Row | None:
        if row is None:
            return None
        updated: Any = event
        return {**row, "name": _text(updated.name), "description": _text(updated.description),
                "updated_at": epoch(event.timestamp)}

    @apply.register
    def _shared(self, event: KnowledgeBase.Shared, row: Row | None) -> Row | None:
        if row is None:
            return None
        access = normalize_access_control(event.access_control)  # type: ignore[attr-defined]
        return {**row, "access_control": None if access is None else json.dumps(access),
                "updated_at": epoch(event.timestamp)}

    @apply.register
    def _deleted(self, event: KnowledgeBase.Deleted, row: Row | None) -> Row | None:
        return None


def _grants(row: Row) -> set[tuple[str, str]]:
    raw = row.get("access_control")
    return grants(None if raw is None else json.loads(raw))


def decode(row: Row) -> Row:
    out = {k: row[k] for k in COLUMNS if k in row}
    out["meta"] = None if row.get("meta") is None else json.loads(row["meta"])
    raw = row.get("access_control")
    out["access_control"] = None if raw is None else json.loads(raw)
    return out


def file_meta(row: Row) -> Row:
    """FileMetadataResponse: id, hash, meta, created_at, updated_at."""
    return {"id": row["id"], "hash": row["hash"], "meta": json.loads(row["meta"]),
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


class KnowledgeQueries:
    PAGE_SIZE = 30

    def __init__(self, db: Database):
        self.db = db

    def _visible(self, viewer: Viewer | None, permission: str = "read") -> tuple[str, list[Any]]:
        if viewer is None:
            return "1 = 1", []
        who = principals(viewer.user_id, viewer.group_ids)
        return (f"(k.user_id = ? OR k.aid IN (SELECT aid FROM knowledge_access WHERE"
                f" permission = ? AND principal IN ({_marks(who)})))",
                [viewer.user_id, permission, *who])

    def get(self, knowledge_id: str) -> Row | None:
        rows = self.db.query("SELECT * FROM knowledge WHERE id = ?", (knowledge_id,))
        return decode(rows[0]) if rows else None

    def visible(self, viewer: Viewer | None, page: int | None) -> list[Row]:
        where, params = self._visible(viewer)
        sql = f"SELECT k.* FROM knowledge k WHERE {where} ORDER BY k.updated_at DESC, k.id"
        if page:
            sql += f" LIMIT {self.PAGE_SIZE} OFFSET {(max(1, page) - 1) * self.PAGE_SIZE}"
        return [decode(r) for r in self.db.query(sql, params)]

    def files(self, knowledge_ids: Sequence[str]) -> dict[str, list[Row]]:
        """FileMetadataResponse rows of each knowledge base, in the order they were added."""
        out: dict[str, list[Row]] = {k: [] for k in knowledge_ids}
        ids = list(out)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            for row in self.db.query(
                    f"SELECT kf.kid, {FILE_COLUMNS} FROM knowledge_files kf JOIN files f ON"
                    f" f.id = kf.file_id WHERE kf.kid IN ({_marks(part)}) ORDER BY kf.seq", part):
                out[row["kid"]].append(file_meta(row))
        return out

    def file_ids(self, knowledge_id: str) -> list[str]:
        return [r["file_id"] for r in self.db.query(
            "SELECT file_id FROM knowledge_files WHERE kid = ? ORDER BY seq", (knowledge_id,))]

    def file_readable(self, file_id: str, viewer: Viewer) -> bool:
        """Whether a knowledge base the viewer may read holds the file."""
        where, params = self._visible(viewer)
        rows = self.db.query(f"SELECT 1 AS x FROM knowledge_files kf JOIN knowledge k ON"
                             f" k.id = kf.kid WHERE kf.file_id = ? AND {where} LIMIT 1",
                             [file_id, *params])
        return bool(rows)

    def owners(self, user_ids: Sequence[str]) -> dict[str, Row]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        rows = self.db.query(f"SELECT id, name, email, role, profile_image_url FROM users WHERE"
                             f" id IN ({_marks(ids)})", ids)
        return {r["id"]: r for r in rows}

    # -- the workspace's paged lists (0.12.4's /knowledge/search, /search/files, /{id}/files) --
    def search(self, viewer: Viewer | None, user_id: str, text: str | None,
               view_option: str | None, order_by: str | None, direction: str | None,
               offset: int, limit: int) -> tuple[list[Row], int]:
        """Knowledge bases the viewer may read (None: all), by name or description."""
        where, params = self._visible(viewer)
        if text:
            where += " AND (LOWER(k.name) LIKE ? ESCAPE '\\' OR LOWER(k.description) LIKE ?" \
                     " ESCAPE '\\')"
            params += [_like(text), _like(text)]
        if view_option in ("created", "shared"):
            where += " AND k.user_id = ?" if view_option == "created" else " AND k.user_id <> ?"
            params.append(user_id)
        column = {"name": "LOWER(k.name)", "created_at": "k.created_at"}.get(
            order_by or "", "k.updated_at")
        way = "ASC" if direction == "asc" else "DESC"
        total = int(self.db.query(f"SELECT COUNT(*) AS n FROM knowledge k WHERE {where}",
                                  params)[0]["n"])
        rows = self.db.query(f"SELECT k.* FROM knowledge k WHERE {where} ORDER BY {column} {way},"
                             f" k.id LIMIT {int(limit)} OFFSET {int(offset)}", params)
        return [decode(r) for r in rows], total

    def file_counts(self, knowledge_ids: Sequence[str]) -> dict[str, int]:
        ids = list(knowledge_ids)
        if not ids:
            return {}
        rows = self.db.query(f"SELECT kid, COUNT(*) AS n FROM knowledge_files WHERE kid IN"
                             f" ({_marks(ids)}) GROUP BY kid", ids)
        return {r["kid"]: int(r["n"]) for r in rows}

    def file_page(self, knowledge_id: str, user_id: str, text: str | None,
                  view_option: str | None, order_by: str | None, direction: str | None,
                  offset: int, limit: int) -> tuple[list[Row], int]:
        """One knowledge base's files, by filename, newest change first by default."""
        where, params = "kf.kid = ?", [knowledge_id]
        if text:
            where += " AND f.filename_lc LIKE ? ESCAPE '\\'"
            params.append(_like(text))
        if view_option in ("created", "shared"):
            where += " AND f.user_id = ?" if view_option == "created" else " AND f.user_id <> ?"
            params.append(user_id)
        column = {"name": "f.filename_lc", "created_at": "f.created_at"}.get(
            order_by or "", "f.updated_at")
        way = "ASC" if direction == "asc" else "DESC"
        return self._file_rows(where, params, f"{column} {way}", offset, limit)

    def readable_files(self, viewer: Viewer | None, text: str | None, offset: int,
                       limit: int) -> tuple[list[Row], int]:
        """Files of every knowledge base the viewer may read (a file once per base)."""
        where, params = self._visible(viewer)
        if text:
            where += " AND f.filename_lc LIKE ? ESCAPE '\\'"
            params.append(_like(text))
        return self._file_rows(where, params, "f.updated_at DESC", offset, limit)

    def _file_rows(self, where: str, params: list[Any], order: str, offset: int,
                   limit: int) -> tuple[list[Row], int]:
        source = "knowledge_files kf JOIN files f ON f.id = kf.file_id JOIN knowledge k ON" \
                 " k.id = kf.kid"
        total = int(self.db.query(f"SELECT COUNT(*) AS n FROM {source} WHERE {where}",
                                  params)[0]["n"])
        rows = self.db.query(
            f"SELECT kf.kid, f.id, f.user_id, f.hash, f.filename, f.meta, f.status, f.error,"
            f" f.created_at, f.updated_at FROM {source} WHERE {where} ORDER BY {order}, f.id,"
            f" kf.kid LIMIT {int(limit)} OFFSET {int(offset)}", params)
        return [_file_row(r) for r in rows], total


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _file_row(row: Row) -> Row:
    """FileUserResponse's own fields (the service adds the uploader and the collection)."""
    data: Row = {"status": row["status"]} if row.get("status") else {}
    if row.get("status") == "failed" and row.get("error"):
        data["error"] = row["error"]
    return {"knowledge_id": row["kid"], "id": row["id"], "user_id": row["user_id"],
            "hash": row["hash"], "filename": row["filename"], "meta": json.loads(row["meta"]),
            "data": data, "created_at": row["created_at"], "updated_at": row["updated_at"]}
