"""The notes read model: the note lists, search, pins, and the access checks of the socket layer.

Tables:
  notes        one row per live note (key: the note id, which is its aggregate id). `pins` holds
               [user id, pinned at] pairs; `title_key` and `md_key` are the title and markdown
               lower-cased without "-" and spaces, what the reference's search compares.
  note_access  (id, principal, permission) as in the models read model: the owner holds read and
               write, write grants imply read.
  note_pins    (id, user_id, pinned_at), for the pinned list.

The access and pin rows are derived from the final `notes` row of each page, so they can never
disagree with it. Timestamps are nanoseconds, as the reference's notes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from application.access import Viewer
from application.notes import NoteFilter
from domain.access import grants, principals
from domain.erasure import erasure_segments
from domain.note import Note, epoch_ns
from infrastructure.sql import Database, Tx
from projections.models import like, marks
from projections.runtime import Event, RowProjector

Row = dict[str, Any]
LIST_COLUMNS = ("id", "user_id", "title", "data", "meta", "access_control", "created_at",
                "updated_at")


def search_key(text: Any) -> str:
    """What the reference's search compares: lower case, without "-" and spaces."""
    return str(text or "").replace("\x00", "").lower().replace("-", "").replace(" ", "")


def _markdown(data: dict[str, Any]) -> str:
    content = data.get("content")
    md = content.get("md") if isinstance(content, dict) else None
    return md if isinstance(md, str) else ""


def _with(row: Row, **values: Any) -> Row:
    """A row with new field values (as the aggregate names them), derived columns refreshed."""
    out = dict(row)
    for key, value in values.items():
        if key in ("data", "meta", "pins"):
            out[key] = json.dumps(value)
        elif key == "access_control":
            out[key] = None if value is None else json.dumps(value)
        else:
            out[key] = value
    out["title_key"] = search_key(out["title"])
    out["md_key"] = search_key(_markdown(json.loads(out["data"])))
    return out


class NotesProjector(RowProjector):
    name = "notes"
    version = 1
    tables = ("notes", "note_access", "note_pins")
    row_table = "notes"
    columns = ("id", "user_id", "title", "title_key", "data", "md_key", "meta",
               "access_control", "pins", "created_at", "updated_at")
    event_base = Note.Event

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {notes} (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
            " title TEXT NOT NULL, title_key TEXT NOT NULL, data TEXT NOT NULL,"
            " md_key TEXT NOT NULL, meta TEXT NOT NULL, access_control TEXT,"
            " pins TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            "CREATE INDEX {notes}_updated ON {notes} (updated_at)",
            "CREATE INDEX {notes}_user ON {notes} (user_id)",
            "CREATE TABLE {note_access} (id TEXT NOT NULL, principal TEXT NOT NULL,"
            " permission TEXT NOT NULL, PRIMARY KEY (id, principal, permission))",
            "CREATE INDEX {note_access}_principal ON {note_access} (principal, permission, id)",
            "CREATE TABLE {note_pins} (id TEXT NOT NULL, user_id TEXT NOT NULL,"
            " pinned_at BIGINT NOT NULL, PRIMARY KEY (id, user_id))",
            "CREATE INDEX {note_pins}_user ON {note_pins} (user_id, pinned_at)",
        ]

    # -- one row per note ---------------------------------------------------------------------
    @singledispatchmethod
    def apply(self, event: Any, row: Row | None) -> Row | None:
        return row

    @apply.register
    def _created(self, event: Note.Created, row: Row | None) -> Row | None:
        created: Any = event  # the decorator's event class: attributes are its arguments
        ts = epoch_ns(event.timestamp)
        base = {"id": str(event.originator_id), "user_id": created.user_id,
                "title": created.title, "data": "{}", "created_at": ts, "updated_at": ts}
        return _with(base, data=created.data, meta=created.meta, pins=[],
                     access_control=created.access_control)

    @apply.register
    def _updated(self, event: Note.Updated, row: Row | None) -> Row | None:
        if row is None:
            return None
        values: dict[str, Any] = {"updated_at": epoch_ns(event.timestamp)}
        for key, value in event.changes.items():
            values[key] = value if key == "title" else {**json.loads(row[key]), **value}
        return _with(row, **values)

    @apply.register
    def _content_saved(self, event: Note.ContentSaved, row: Row | None) -> Row | None:
        if row is None:
            return None
        return _with(row, data={**json.loads(row["data"]), **event.data},
                     updated_at=epoch_ns(event.timestamp))

    @apply.register
    def _access_changed(self, event: Note.AccessChanged, row: Row | None) -> Row | None:
        changed: Any = event
        return None if row is None else _with(row, access_control=changed.access_control)

    @apply.register
    def _pinned(self, event: Note.Pinned, row: Row | None) -> Row | None:
        pinned: Any = event
        if row is None:
            return None
        pins = [p for p in json.loads(row["pins"]) if p[0] != pinned.user_id]
        return _with(row, pins=[*pins, [pinned.user_id, epoch_ns(event.timestamp)]])

    @apply.register
    def _unpinned(self, event: Note.Unpinned, row: Row | None) -> Row | None:
        unpinned: Any = event
        if row is None:
            return None
        return _with(row, pins=[p for p in json.loads(row["pins"]) if p[0] != unpinned.user_id])

    @apply.register
    def _deleted(self, event: Note.Deleted, row: Row | None) -> Row | None:
        return None

    # -- pages, erasures and the derived tables ----------------------------------------------
    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        for segment, erased in erasure_segments(events):
            self._apply_segment(segment, tx)
            if erased is not None:
                self._erase(tx, erased)

    def _apply_segment(self, events: Sequence[Event], tx: Tx) -> None:
        relevant = [(key, event) for _, event in events
                    if (key := self.row_key(event)) is not None]
        if not relevant:
            return
        rows = self._load(tx, list(dict.fromkeys(key for key, _ in relevant)))
        for key, event in relevant:
            rows[key] = self.apply(event, rows.get(key))
        self._save(tx, rows)

    def _save(self, tx: Tx, rows: dict[str, Row | None]) -> None:
        self._store(tx, rows)
        access, pins = self.t["note_access"], self.t["note_pins"]
        keys = [(k,) for k in rows]
        tx.executemany(f"DELETE FROM {access} WHERE id = ?", keys)
        tx.executemany(f"DELETE FROM {pins} WHERE id = ?", keys)
        live = [(k, r) for k, r in rows.items() if r is not None]
        tx.executemany(f"INSERT INTO {access} (id, principal, permission) VALUES (?, ?, ?)",
                       [(k, p, perm) for k, r in live for p, perm in sorted(_grants(r))])
        tx.executemany(f"INSERT INTO {pins} (id, user_id, pinned_at) VALUES (?, ?, ?)",
                       [(k, user, at) for k, r in live for user, at in json.loads(r["pins"])])

    def _erase(self, tx: Tx, user_id: str) -> None:
        """An erased user's notes (deleted before the erasure: belt and braces) and their pins
        on other people's notes."""
        pinned = [r["id"] for r in tx.execute(
            f"SELECT id FROM {self.t['note_pins']} WHERE user_id = ?", (user_id,))]
        rows = self._load(tx, pinned)
        for key, row in rows.items():
            if row is not None:
                rows[key] = _with(row, pins=[p for p in json.loads(row["pins"])
                                             if p[0] != user_id])
        owned = [r["id"] for r in tx.execute(
            f"SELECT id FROM {self.t['notes']} WHERE user_id = ?", (user_id,))]
        rows.update(dict.fromkeys(owned))
        self._save(tx, rows)


def _grants(row: Row) -> set[tuple[str, str]]:
    raw = row.get("access_control")
    owner = f"user:{row['user_id']}"
    return grants(None if raw is None else json.loads(raw)) | {(owner, "read"), (owner, "write")}


# -- queries ----------------------------------------------------------------------------------
# Owner summaries ({id, name, email, role}) come from the users read model.
OWNER = "u.name AS owner_name, u.email AS owner_email, u.role AS owner_role"
OWNER_JOIN = "LEFT JOIN users u ON u.id = n.user_id"


def decode(row: Row) -> Row:
    """A read-model row as the service hands it on (JSON parsed, the owner's summary)."""
    out = {k: row[k] for k in LIST_COLUMNS}
    for key in ("data", "meta"):
        out[key] = json.loads(row[key])
    raw = row["access_control"]
    out["access_control"] = None if raw is None else json.loads(raw)
    if "owner_name" in row:
        out["user"] = None if row["owner_name"] is None else {
            "id": row["user_id"], "name": row["owner_name"], "email": row["owner_email"],
            "role": row["owner_role"]}
    return out


class NotesQueries:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def _granted(viewer: Viewer, permission: str) -> tuple[str, list[Any]]:
        who = principals(viewer.user_id, viewer.group_ids)
        return (f"n.id IN (SELECT id FROM note_access WHERE permission = ? AND principal IN"
                f" ({marks(who)}))", [permission, *who])

    def _access(self, viewer: Viewer | None, permission: str) -> tuple[str, list[Any]]:
        """Notes the viewer may read / write, or read but neither write nor own (read_only)."""
        if viewer is None:
            return "1 = 1", []
        if permission == "read_only":
            readable, params = self._granted(viewer, "read")
            writable, more = self._granted(viewer, "write")
            return (f"{readable} AND NOT {writable} AND n.user_id <> ?",
                    [*params, *more, viewer.user_id])
        if permission not in ("read", "write"):  # the reference matches no grant: own notes
            return "n.user_id = ?", [viewer.user_id]
        return self._granted(viewer, permission)

    def get(self, note_id: str) -> Row | None:
        rows = self.db.query("SELECT n.* FROM notes n WHERE n.id = ?", (note_id,))
        return decode(rows[0]) if rows else None

    def listing(self, viewer: Viewer, offset: int, limit: int | None) -> list[Row]:
        """Readable notes, newest change first (the reference's `GET /`)."""
        where, params = self._access(viewer, "read")
        window = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = self.db.query(f"SELECT n.*, {OWNER} FROM notes n {OWNER_JOIN} WHERE {where}"
                             f" ORDER BY n.updated_at DESC, n.id{window}", params)
        return [decode(r) for r in rows]

    def pinned(self, viewer: Viewer) -> list[Row]:
        """The viewer's pins on notes they may still read, last pinned first."""
        where, params = self._access(viewer, "read")
        rows = self.db.query(
            f"SELECT n.*, {OWNER} FROM notes n JOIN note_pins p ON p.id = n.id AND p.user_id = ?"
            f" {OWNER_JOIN} WHERE {where}"
            f" ORDER BY p.pinned_at DESC, n.id", [viewer.user_id, *params])
        return [decode(r) for r in rows]

    def search(self, viewer: Viewer | None, flt: NoteFilter, offset: int,
               limit: int) -> tuple[list[Row], int]:
        where, params = self._access(viewer, flt.permission)
        clauses = [where]
        for word in (flt.query or "").split():
            word = word.replace("-", "")
            if word:
                clauses.append("(n.title_key LIKE ? ESCAPE '\\' OR n.md_key LIKE ? ESCAPE '\\')")
                params += [like(word)] * 2
        if flt.view_option in ("created", "shared"):
            clauses.append("n.user_id = ?" if flt.view_option == "created" else "n.user_id <> ?")
            params.append(flt.user_id)
        key = {"name": "n.title", "created_at": "n.created_at"}.get(flt.order_by, "n.updated_at")
        direction = "ASC" if flt.direction == "asc" else "DESC"
        condition = " AND ".join(clauses)
        total = self.db.query(f"SELECT COUNT(*) AS n FROM notes n WHERE {condition}", params)
        rows = self.db.query(
            f"SELECT n.*, {OWNER} FROM notes n {OWNER_JOIN} WHERE {condition}"
            f" ORDER BY {key} {direction}, n.id LIMIT {int(limit)} OFFSET {int(offset)}", params)
        return [decode(r) for r in rows], int(total[0]["n"])

    def pinned_ids(self, user_id: str, note_ids: list[str]) -> set[str]:
        rows = self.db.query(f"SELECT id FROM note_pins WHERE user_id = ? AND id IN"
                             f" ({marks(note_ids)})", [user_id, *note_ids])
        return {r["id"] for r in rows}
