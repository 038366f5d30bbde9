"""The users read model: list, search, lookups by id and API key."""

from __future__ import annotations

import json
from functools import singledispatchmethod
from typing import Any

from domain.user import User
from infrastructure.sql import Database, Tx
from projections.runtime import Projector

COLUMNS = ("id", "email", "name", "role", "profile_image_url", "bio", "gender", "date_of_birth",
           "info", "settings", "status", "created_at", "updated_at")


class UsersProjector(Projector):
    name = "users"
    version = 1
    tables = ("users", "user_api_keys")

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {users} (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL,"
            " role TEXT NOT NULL, profile_image_url TEXT, bio TEXT, gender TEXT,"
            " date_of_birth TEXT, info TEXT, settings TEXT, status TEXT,"
            " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, name_lc TEXT,"
            " email_lc TEXT)",
            "CREATE INDEX {users}_created ON {users} (created_at)",
            "CREATE INDEX {users}_name ON {users} (name_lc)",
            "CREATE TABLE {user_api_keys} (key_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL)",
            "CREATE INDEX {user_api_keys}_user ON {user_api_keys} (user_id)",
        ]

    def _set(self, tx: Tx, user_id: str, **values: Any) -> None:
        assignments = ", ".join(f"{k} = ?" for k in values)
        tx.execute(f"UPDATE {self.t['users']} SET {assignments} WHERE id = ?",
                   (*values.values(), user_id))

    @staticmethod
    def _ts(event: Any) -> int:
        return int(event.timestamp.timestamp())

    @singledispatchmethod
    def handle(self, event: Any, tx: Tx) -> None:
        pass

    @handle.register
    def _registered(self, event: User.Registered, tx: Tx) -> None:
        ts = self._ts(event)
        tx.execute(
            f"INSERT INTO {self.t['users']} (id, email, name, role, profile_image_url, status,"
            f" created_at, updated_at, name_lc, email_lc) VALUES (?, ?, ?, ?, ?, '{{}}', ?, ?, ?, ?)"
            f" ON CONFLICT (id) DO NOTHING",
            (str(event.originator_id), event.email, event.name, event.role,
             event.profile_image_url, ts, ts, event.name.lower(), event.email.lower()))

    @handle.register
    def _profile(self, event: User.ProfileUpdated, tx: Tx) -> None:
        values = {k: v for k, v in event.changes.items() if k in COLUMNS}
        if "name" in values:
            values["name_lc"] = str(values["name"]).lower()
        self._set(tx, str(event.originator_id), **values, updated_at=self._ts(event))

    @handle.register
    def _email(self, event: User.EmailChanged, tx: Tx) -> None:
        self._set(tx, str(event.originator_id), email=event.email, email_lc=event.email.lower(),
                  updated_at=self._ts(event))

    @handle.register
    def _role(self, event: User.RoleChanged, tx: Tx) -> None:
        self._set(tx, str(event.originator_id), role=event.role, updated_at=self._ts(event))

    @handle.register
    def _settings(self, event: User.SettingsUpdated, tx: Tx) -> None:
        self._set(tx, str(event.originator_id), settings=json.dumps(event.settings),
                  updated_at=self._ts(event))

    @handle.register
    def _info(self, event: User.InfoUpdated, tx: Tx) -> None:
        self._set(tx, str(event.originator_id), info=json.dumps(event.info),
                  updated_at=self._ts(event))

    @handle.register
    def _status(self, event: User.StatusUpdated, tx: Tx) -> None:
        self._set(tx, str(event.originator_id), status=json.dumps(event.status),
                  updated_at=self._ts(event))

    @handle.register
    def _api_key(self, event: User.ApiKeyCreated, tx: Tx) -> None:
        user_id = str(event.originator_id)
        tx.execute(f"DELETE FROM {self.t['user_api_keys']} WHERE user_id = ?", (user_id,))
        tx.execute(f"INSERT INTO {self.t['user_api_keys']} (key_hash, user_id) VALUES (?, ?)",
                   (event.key_hash, user_id))

    @handle.register
    def _api_key_deleted(self, event: User.ApiKeyDeleted, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.t['user_api_keys']} WHERE user_id = ?",
                   (str(event.originator_id),))

    @handle.register
    def _deleted(self, event: User.Deleted, tx: Tx) -> None:
        user_id = str(event.originator_id)
        tx.execute(f"DELETE FROM {self.t['users']} WHERE id = ?", (user_id,))
        tx.execute(f"DELETE FROM {self.t['user_api_keys']} WHERE user_id = ?", (user_id,))


def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in COLUMNS}
    for key in ("info", "settings"):
        out[key] = json.loads(out[key]) if out[key] else None
    status = json.loads(row.get("status") or "{}")
    out["status_emoji"] = status.get("status_emoji")
    out["status_message"] = status.get("status_message")
    out["status_expires_at"] = status.get("status_expires_at")
    del out["status"]
    return out


class UsersQueries:
    def __init__(self, db: Database):
        self.db = db

    def get(self, user_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM users WHERE id = ?", (user_id,))
        return _row(rows[0]) if rows else None

    def by_api_key_hash(self, key_hash: str) -> dict[str, Any] | None:
        rows = self.db.query(
            "SELECT u.* FROM user_api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?",
            (key_hash,))
        return _row(rows[0]) if rows else None

    def page(self, query: str | None, order_by: str, direction: str, offset: int,
             limit: int | None) -> tuple[list[dict[str, Any]], int]:
        where, params = "", []
        if query:
            like = f"%{query.lower()}%"
            where, params = "WHERE name_lc LIKE ? OR email_lc LIKE ?", [like, like]
        column = {"name": "name_lc", "email": "email_lc"}.get(order_by, order_by)
        if column == "last_active_at":
            column = "updated_at"
        direction = "ASC" if direction == "asc" else "DESC"
        total = int(self.db.query(f"SELECT COUNT(*) AS n FROM users {where}", params)[0]["n"])
        sql = f"SELECT * FROM users {where} ORDER BY {column} {direction}, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [_row(r) for r in self.db.query(sql, params)], total

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) AS n FROM users")[0]["n"])
