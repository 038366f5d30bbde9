"""The tools read model: the tool list, one tool with its source, and the valves schemas.

Tables:
  tools        one row per live tool (key: the aggregate id; `id` is the client's tool id).
  tool_access  (aid, principal, permission) as in the models read model.

Valve *values* are never projected: admin valves and each user's valves may hold secrets, so
they are read from their (owner-encrypted) aggregates only. Their schemas are here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from application.access import Viewer
from domain.access import grants, principals
from domain.base import epoch
from domain.erasure import erasure_segments
from domain.tool import Tool
from infrastructure.sql import Database, Tx
from projections.models import like, marks
from projections.runtime import Event, RowProjector

Row = dict[str, Any]
FIELDS = ("name", "content", "meta", "specs", "valves_schema", "user_valves_schema",
          "access_control")
JSON_FIELDS = ("meta", "specs", "valves_schema", "user_valves_schema", "access_control")
LIST_COLUMNS = ("aid", "id", "user_id", "name", "meta", "access_control", "created_at",
                "updated_at")


def _text(value: Any) -> str:
    return str(value or "").replace("\x00", "")


def _fields(row: Row | None, values: dict[str, Any]) -> Row:
    out = dict(row or {})
    for key, value in values.items():
        if key in JSON_FIELDS:
            out[key] = None if value is None else json.dumps(value)
        elif key == "name":
            out["name"], out["name_lc"] = _text(value), _text(value).lower()
        elif key in ("content", "user_id"):
            out[key] = _text(value)
    return out


class ToolsProjector(RowProjector):
    name = "tools"
    version = 2
    tables = ("tools", "tool_access")
    row_table = "tools"
    columns = ("aid", "id", "user_id", "name", "name_lc", "content", "meta", "specs",
               "valves_schema", "user_valves_schema", "access_control", "created_at",
               "updated_at")
    event_base = Tool.Event

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {tools} (aid TEXT PRIMARY KEY, id TEXT NOT NULL, user_id TEXT NOT NULL,"
            " name TEXT NOT NULL, name_lc TEXT NOT NULL, content TEXT NOT NULL,"
            " meta TEXT NOT NULL, specs TEXT NOT NULL, valves_schema TEXT,"
            " user_valves_schema TEXT, access_control TEXT, created_at BIGINT NOT NULL,"
            " updated_at BIGINT NOT NULL)",
            "CREATE UNIQUE INDEX {tools}_id ON {tools} (id)",
            "CREATE TABLE {tool_access} (aid TEXT NOT NULL, principal TEXT NOT NULL,"
            " permission TEXT NOT NULL, PRIMARY KEY (aid, principal, permission))",
            "CREATE INDEX {tool_access}_principal ON {tool_access} (principal, permission, aid)",
        ]

    @singledispatchmethod
    def apply(self, event: Any, row: Row | None) -> Row | None:
        return row

    @apply.register
    def _created(self, event: Tool.Created, row: Row | None) -> Row | None:
        created: Any = event  # the decorator's event class: attributes are its arguments
        values = {k: getattr(created, k, None) for k in FIELDS}
        return self._born(event, created.tool_id, created.user_id, values)

    @apply.register
    def _recreated(self, event: Tool.Recreated, row: Row | None) -> Row | None:
        return self._born(event, event.tool_id, event.user_id, event.fields)

    def _born(self, event: Any, tool_id: str, user_id: str, values: dict[str, Any]) -> Row:
        ts = epoch(event.timestamp)
        row = _fields(None, {**{k: values.get(k) for k in FIELDS}, "user_id": user_id})
        return {**row, "aid": str(event.originator_id), "id": _text(tool_id), "created_at": ts,
                "updated_at": ts}

    @apply.register
    def _updated(self, event: Tool.Updated, row: Row | None) -> Row | None:
        return None if row is None else {**_fields(row, event.changes), "updated_at": epoch(event.timestamp)}

    @apply.register
    def _valves(self, event: Tool.ValvesSet, row: Row | None) -> Row | None:
        return None if row is None else {**row, "updated_at": epoch(event.timestamp)}  # values stay out

    @apply.register
    def _deleted(self, event: Tool.Deleted, row: Row | None) -> Row | None:
        return None

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        for segment, erased in erasure_segments(events):
            self._apply_segment(segment, tx)
            if erased is not None:
                self._erase(tx, erased)

    def _erase(self, tx: Tx, user_id: str) -> None:
        """An erased user's tools (deleted before the erasure: belt and braces)."""
        tx.execute(f"DELETE FROM {self.t['tool_access']} WHERE aid IN (SELECT aid FROM"
                   f" {self.t['tools']} WHERE user_id = ?)", (user_id,))
        tx.execute(f"DELETE FROM {self.t['tools']} WHERE user_id = ?", (user_id,))

    def _apply_segment(self, events: Sequence[Event], tx: Tx) -> None:
        relevant = [(key, event) for _, event in events
                    if (key := self.row_key(event)) is not None]
        if not relevant:
            return
        rows = self._load(tx, list(dict.fromkeys(key for key, _ in relevant)))
        for key, event in relevant:
            rows[key] = self.apply(event, rows.get(key))
        self._store(tx, rows)
        access = self.t["tool_access"]
        tx.executemany(f"DELETE FROM {access} WHERE aid = ?", [(k,) for k in rows])
        tx.executemany(f"INSERT INTO {access} (aid, principal, permission) VALUES (?, ?, ?)",
                       [(k, p, perm) for k, r in rows.items() if r is not None
                        for p, perm in sorted(grants(_json(r["access_control"])))])


def _json(raw: str | None) -> Any:
    return None if raw is None else json.loads(raw)


def decode(row: Row) -> Row:
    out = dict(row)
    for key in JSON_FIELDS:
        if key in out:
            out[key] = _json(out[key])
    return out


class ToolsQueries:
    def __init__(self, db: Database):
        self.db = db

    def visible(self, viewer: Viewer | None, query: str | None) -> list[Row]:
        """Tools `viewer` may read (admins: all), without their source, newest first."""
        clauses, params = ["1 = 1"], []
        if viewer is not None:
            who = principals(viewer.user_id, viewer.group_ids)
            clauses.append(f"(t.user_id = ? OR t.aid IN (SELECT aid FROM tool_access WHERE"
                           f" permission = 'read' AND principal IN ({marks(who)})))")
            params += [viewer.user_id, *who]
        if query:
            clauses.append("(t.name_lc LIKE ? ESCAPE '\\' OR t.id LIKE ? ESCAPE '\\')")
            params += [like(query)] * 2
        cols = ", ".join(f"t.{c}" for c in LIST_COLUMNS) + ", t.user_valves_schema"
        rows = self.db.query(f"SELECT {cols} FROM tools t WHERE {' AND '.join(clauses)}"
                             f" ORDER BY t.updated_at DESC, t.id", params)
        return [decode(r) for r in rows]

    def get(self, tool_id: str, with_content: bool = True) -> Row | None:
        cols = "*" if with_content else ", ".join(c for c in ToolsProjector.columns
                                                  if c != "content")
        rows = self.db.query(f"SELECT {cols} FROM tools WHERE id = ?", (tool_id,))
        return decode(rows[0]) if rows else None

    def owners(self, user_ids: Sequence[str]) -> dict[str, Row]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        rows = self.db.query(f"SELECT id, name, email, role FROM users WHERE id IN"
                             f" ({marks(wanted)})", wanted)
        return {r["id"]: r for r in rows}
