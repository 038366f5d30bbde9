"""The folders read model: each user's chat folders (names, tree, expansion, meta, data)."""

from __future__ import annotations

import json
from functools import singledispatchmethod
from typing import Any

from domain.base import epoch
from domain.erasure import Erasure
from domain.folder import Folder
from domain.user import User
from infrastructure.sql import Database, Tx
from projections.runtime import Projector

COLUMNS = "id, user_id, name, parent_id, is_expanded, meta, data, created_at, updated_at"


class FoldersProjector(Projector):
    name = "folders"
    version = 1
    tables = ("folders",)

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {folders} (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
            " name TEXT NOT NULL, name_lc TEXT NOT NULL, parent_id TEXT,"
            " is_expanded INTEGER NOT NULL, meta TEXT NOT NULL, data TEXT NOT NULL,"
            " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            "CREATE INDEX {folders}_user ON {folders} (user_id, parent_id)",
        ]

    def _set(self, tx: Tx, event: Any, **values: Any) -> None:
        values["updated_at"] = epoch(event.timestamp)
        assignments = ", ".join(f"{k} = ?" for k in values)
        tx.execute(f"UPDATE {self.t['folders']} SET {assignments} WHERE id = ?",
                   (*values.values(), str(event.originator_id)))

    def _merge(self, tx: Tx, event: Any, column: str) -> None:
        rows = tx.execute(f"SELECT {column} FROM {self.t['folders']} WHERE id = ?",
                          (str(event.originator_id),))
        if rows:
            merged = {**json.loads(rows[0][column]), **event.changes}
            self._set(tx, event, **{column: json.dumps(merged)})

    @singledispatchmethod
    def handle(self, event: Any, tx: Tx) -> None:
        pass

    @handle.register(Folder.Created)  # explicit: the decorator-made class is opaque to typing
    def _created(self, event: Any, tx: Tx) -> None:
        ts = epoch(event.timestamp)
        tx.execute(
            f"INSERT INTO {self.t['folders']} (id, user_id, name, name_lc, parent_id, is_expanded,"
            f" meta, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT (id) DO NOTHING",
            (str(event.originator_id), event.owner_id, event.name, event.name.lower(),
             event.parent_id, int(event.is_expanded), json.dumps(event.meta),
             json.dumps(event.data), ts, ts))

    @handle.register
    def _renamed(self, event: Folder.Renamed, tx: Tx) -> None:
        self._set(tx, event, name=event.name, name_lc=event.name.lower())

    @handle.register
    def _moved(self, event: Folder.Moved, tx: Tx) -> None:
        self._set(tx, event, parent_id=event.parent_id)

    @handle.register
    def _expanded(self, event: Folder.ExpansionChanged, tx: Tx) -> None:
        self._set(tx, event, is_expanded=int(event.is_expanded))

    @handle.register
    def _meta(self, event: Folder.MetaUpdated, tx: Tx) -> None:
        self._merge(tx, event, "meta")

    @handle.register
    def _data(self, event: Folder.DataUpdated, tx: Tx) -> None:
        self._merge(tx, event, "data")

    @handle.register
    def _deleted(self, event: Folder.Deleted, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.t['folders']} WHERE id = ?", (str(event.originator_id),))

    @handle.register
    def _user_deleted(self, event: User.Deleted, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.t['folders']} WHERE user_id = ?",
                   (str(event.originator_id),))

    @handle.register
    def _user_erased(self, event: Erasure.UserErased, tx: Tx) -> None:
        """Belt and braces: the user's deletion already dropped their folders."""
        tx.execute(f"DELETE FROM {self.t['folders']} WHERE user_id = ?", (event.user_id,))


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "is_expanded": bool(row["is_expanded"]), "meta": json.loads(row["meta"]),
            "data": json.loads(row["data"])}


class FoldersQueries:
    def __init__(self, db: Database):
        self.db = db

    def of_user(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(f"SELECT {COLUMNS} FROM folders WHERE user_id = ?"
                             f" ORDER BY created_at, id", (user_id,))
        return [_row(r) for r in rows]

    def sibling_named(self, user_id: str, parent_id: str | None, name: str) -> str | None:
        """Id of the user's folder called `name` (any case) under `parent_id`, if any."""
        parent = "parent_id IS NULL" if parent_id is None else "parent_id = ?"
        params = [user_id, name.lower()] + ([] if parent_id is None else [parent_id])
        rows = self.db.query(f"SELECT id FROM folders WHERE user_id = ? AND name_lc = ?"
                             f" AND {parent} ORDER BY id", params)
        return rows[0]["id"] if rows else None

    def named(self, user_id: str, names: list[str]) -> list[str]:
        """Ids of the user's folders whose name (any case; `_` for spaces) is one of `names`."""
        wanted = {n.lower() for n in names}
        return [f["id"] for f in self.of_user(user_id)
                if f["name"].lower() in wanted or f["name"].lower().replace(" ", "_") in wanted]

    def subtree(self, user_id: str, folder_id: str) -> list[str]:
        """`folder_id` and every folder below it (one user's folders are few: walk in Python)."""
        children: dict[str | None, list[str]] = {}
        for row in self.db.query("SELECT id, parent_id FROM folders WHERE user_id = ?",
                                 (user_id,)):
            children.setdefault(row["parent_id"], []).append(row["id"])
        found, todo = [], [folder_id]
        while todo:
            current = todo.pop()
            if current not in found:
                found.append(current)
                todo.extend(children.get(current, []))
        return found
