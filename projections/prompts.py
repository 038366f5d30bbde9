"""The prompts read model: the `/` menu, the workspace list, tags and lookups.

Tables:
  prompts        one row per live prompt (key: the aggregate id, which is the prompt's id), as
                 its production revision shows it; `version_id` names that revision.
  prompt_access  (aid, principal, permission) grants, as in the tools read model (the owner
                 is matched on `prompts.user_id`; write grants imply read).
  prompt_tags    (aid, tag) pairs, for the tag filter and the tag list.

The history is not projected: it is read from each prompt's event stream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from application.access import Viewer
from application.prompts import PromptFilter
from domain.access import grants, principals
from domain.base import epoch
from domain.erasure import erasure_segments
from domain.prompt import SNAPSHOT, Prompt
from infrastructure.sql import Database, Tx
from projections.models import like, marks
from projections.runtime import Event, RowProjector

Row = dict[str, Any]
JSON_FIELDS = ("data", "meta", "tags", "access_control")
TAG_MAX = 255  # longer tags are not indexed
COLUMNS = ("aid", "user_id", "command", "name", "name_lc", "content", "data", "meta", "tags",
           "is_active", "version_id", "access_control", "created_at", "updated_at")


def _text(value: Any) -> str:
    return str(value or "").replace("\x00", "")


def _fields(row: Row, values: dict[str, Any]) -> Row:
    """Row columns for prompt fields (as the aggregate names them)."""
    out = dict(row)
    for key, value in values.items():
        if key in JSON_FIELDS:
            out[key] = None if value is None else json.dumps(value)
        elif key == "name":
            out["name"], out["name_lc"] = _text(value), _text(value).lower()
        elif key in ("command", "content", "user_id"):
            out[key] = _text(value)
        elif key == "is_active":
            out[key] = int(bool(value))
    return out


class PromptsProjector(RowProjector):
    name = "prompts"
    version = 1
    tables = ("prompts", "prompt_access", "prompt_tags")
    row_table = "prompts"
    columns = COLUMNS
    event_base = Prompt.Event

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {prompts} (aid TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
            " command TEXT NOT NULL, name TEXT NOT NULL, name_lc TEXT NOT NULL,"
            " content TEXT NOT NULL, data TEXT, meta TEXT, tags TEXT,"
            " is_active INTEGER NOT NULL, version_id TEXT, access_control TEXT,"
            " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            "CREATE INDEX {prompts}_user ON {prompts} (user_id)",
            "CREATE INDEX {prompts}_updated ON {prompts} (updated_at)",
            "CREATE TABLE {prompt_access} (aid TEXT NOT NULL, principal TEXT NOT NULL,"
            " permission TEXT NOT NULL, PRIMARY KEY (aid, principal, permission))",
            "CREATE INDEX {prompt_access}_principal ON {prompt_access}"
            " (principal, permission, aid)",
            "CREATE TABLE {prompt_tags} (aid TEXT NOT NULL, tag TEXT NOT NULL,"
            " tag_lc TEXT NOT NULL, PRIMARY KEY (aid, tag))",
            "CREATE INDEX {prompt_tags}_tag ON {prompt_tags} (tag_lc, aid)",
        ]

    @singledispatchmethod
    def apply(self, event: Any, row: Row | None) -> Row | None:
        return row

    @apply.register
    def _created(self, event: Prompt.Created, row: Row | None) -> Row | None:
        created: Any = event  # the decorator's event class: attributes are its arguments
        ts = epoch(event.timestamp)
        values = {k: getattr(created, k) for k in (*SNAPSHOT, "user_id", "access_control")}
        return _fields({"aid": str(event.originator_id), "is_active": 1,
                        "version_id": str(event.originator_version), "created_at": ts,
                        "updated_at": ts}, values)

    @apply.register
    def _revised(self, event: Prompt.Revised, row: Row | None) -> Row | None:
        if row is None:
            return None
        revised: Any = event
        snapshot = revised.snapshot
        if not revised.production:
            return _fields(self._touched(event, row), {"command": snapshot["command"]})
        return {**_fields(self._touched(event, row), {k: snapshot[k] for k in SNAPSHOT}),
                "version_id": str(event.originator_version)}

    @apply.register
    def _amended(self, event: Prompt.Amended, row: Row | None) -> Row | None:
        return None if row is None else _fields(self._touched(event, row), event.changes)

    @apply.register
    def _production_set(self, event: Prompt.ProductionSet, row: Row | None) -> Row | None:
        if row is None:
            return None
        return {**_fields(self._touched(event, row), event.restored),
                "version_id": str(event.version)}

    @apply.register
    def _shared(self, event: Prompt.Shared, row: Row | None) -> Row | None:
        if row is None:
            return None
        return _fields(self._touched(event, row), {"access_control": event.access_control})

    @apply.register
    def _toggled(self, event: Prompt.Toggled, row: Row | None) -> Row | None:
        return None if row is None else _fields(self._touched(event, row),
                                                {"is_active": event.is_active})

    @apply.register
    def _deleted(self, event: Prompt.Deleted, row: Row | None) -> Row | None:
        return None

    @staticmethod
    def _touched(event: Any, row: Row) -> Row:
        """Every event moves updated_at, as it moves the aggregate's modified_on."""
        return {**row, "updated_at": epoch(event.timestamp)}

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        for segment, erased in erasure_segments(events):
            self._apply_segment(segment, tx)
            if erased is not None:
                self._erase(tx, erased)

    def _erase(self, tx: Tx, user_id: str) -> None:
        """An erased user's prompts (their events can no longer be read)."""
        mine = f"SELECT aid FROM {self.t['prompts']} WHERE user_id = ?"
        for table in ("prompt_access", "prompt_tags"):
            tx.execute(f"DELETE FROM {self.t[table]} WHERE aid IN ({mine})", (user_id,))
        tx.execute(f"DELETE FROM {self.t['prompts']} WHERE user_id = ?", (user_id,))

    def _apply_segment(self, events: Sequence[Event], tx: Tx) -> None:
        relevant = [(key, event) for _, event in events
                    if (key := self.row_key(event)) is not None]
        if not relevant:
            return
        rows = self._load(tx, list(dict.fromkeys(key for key, _ in relevant)))
        for key, event in relevant:
            rows[key] = self.apply(event, rows.get(key))
        self._store(tx, rows)
        self._index(tx, rows)

    def _index(self, tx: Tx, rows: dict[str, Row | None]) -> None:
        access, tags = self.t["prompt_access"], self.t["prompt_tags"]
        keys = [(k,) for k in rows]
        tx.executemany(f"DELETE FROM {access} WHERE aid = ?", keys)
        tx.executemany(f"DELETE FROM {tags} WHERE aid = ?", keys)
        live = [(k, r) for k, r in rows.items() if r is not None]
        tx.executemany(f"INSERT INTO {access} (aid, principal, permission) VALUES (?, ?, ?)",
                       [(k, p, perm) for k, r in live
                        for p, perm in sorted(grants(_json(r["access_control"])))])
        tx.executemany(f"INSERT INTO {tags} (aid, tag, tag_lc) VALUES (?, ?, ?)",
                       [(k, t, t.lower()) for k, r in live for t in tag_names(r["tags"])])


def tag_names(raw: str | None) -> list[str]:
    tags = _json(raw)
    names = [t.replace("\x00", "") for t in (tags if isinstance(tags, list) else [])
             if isinstance(t, str) and t.strip() and len(t) <= TAG_MAX]
    return list(dict.fromkeys(names))


def _json(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


def decode(row: Row) -> Row:
    """A read-model row as the service hands it on (JSON parsed, flags as booleans)."""
    out = {k: row[k] for k in COLUMNS if k in row and k not in ("aid", "name_lc")}
    out["id"] = row["aid"]
    for key in JSON_FIELDS:
        out[key] = _json(row.get(key))
    out["data"], out["meta"], out["tags"] = out["data"] or {}, out["meta"] or {}, out["tags"] or []
    out["is_active"] = bool(row["is_active"])
    return out


class PromptsQueries:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def _visible(viewer: Viewer | None) -> tuple[str, list[Any]]:
        """SQL (and params) admitting the prompts `viewer` may read; admins: everything."""
        if viewer is None:
            return "1 = 1", []
        who = principals(viewer.user_id, viewer.group_ids)
        return (f"(p.user_id = ? OR p.aid IN (SELECT aid FROM prompt_access WHERE"
                f" permission = 'read' AND principal IN ({marks(who)})))", [viewer.user_id, *who])

    def page(self, viewer: Viewer | None, flt: PromptFilter, offset: int,
             limit: int) -> tuple[list[Row], int]:
        where, params = self._visible(viewer)
        clauses = [where]
        if flt.view_option in ("created", "shared"):
            clauses.append("p.user_id = ?" if flt.view_option == "created" else "p.user_id <> ?")
            params.append(flt.user_id)
        if flt.tag:
            clauses.append("p.aid IN (SELECT aid FROM prompt_tags WHERE tag_lc = ?)")
            params.append(flt.tag.lower())
        if flt.query:
            clauses.append("(p.name_lc LIKE ? ESCAPE '\\' OR LOWER(p.command) LIKE ? ESCAPE '\\'"
                           " OR LOWER(p.content) LIKE ? ESCAPE '\\' OR p.user_id IN (SELECT id"
                           " FROM users WHERE name_lc LIKE ? ESCAPE '\\' OR email_lc LIKE ?"
                           " ESCAPE '\\'))")
            params += [like(flt.query)] * 5
        key = {"name": "p.name_lc", "created_at": "p.created_at"}.get(flt.order_by, "p.updated_at")
        direction = "ASC" if flt.direction == "asc" else "DESC"
        condition = " AND ".join(clauses)
        total = self.db.query(f"SELECT COUNT(*) AS n FROM prompts p WHERE {condition}", params)
        rows = self.db.query(f"SELECT p.* FROM prompts p WHERE {condition} ORDER BY {key}"
                             f" {direction}, p.aid LIMIT {int(limit)} OFFSET {int(offset)}", params)
        return [decode(r) for r in rows], int(total[0]["n"])

    def active(self, viewer: Viewer | None) -> list[Row]:
        where, params = self._visible(viewer)
        rows = self.db.query(f"SELECT p.* FROM prompts p WHERE p.is_active = 1 AND {where}"
                             f" ORDER BY p.updated_at DESC, p.aid", params)
        return [decode(r) for r in rows]

    def get(self, prompt_id: str) -> Row | None:
        rows = self.db.query("SELECT * FROM prompts WHERE aid = ?", (prompt_id,))
        return decode(rows[0]) if rows else None

    def tags(self, viewer: Viewer | None) -> list[str]:
        where, params = self._visible(viewer)
        rows = self.db.query(f"SELECT DISTINCT t.tag FROM prompt_tags t JOIN prompts p ON"
                             f" p.aid = t.aid WHERE p.is_active = 1 AND {where}", params)
        return sorted(r["tag"] for r in rows)

    def owners(self, user_ids: list[str]) -> dict[str, Row]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        rows = self.db.query(f"SELECT id, name, email, role FROM users WHERE id IN"
                             f" ({marks(wanted)})", wanted)
        return {r["id"]: r for r in rows}
