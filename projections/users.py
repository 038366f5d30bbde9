"""The users read model: list, search, lookups by id and API key (one row per user)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from domain.base import epoch
from domain.erasure import erasure_segments
from domain.user import User
from infrastructure.sql import Database, Tx
from projections.runtime import Event, RowProjector

Row = dict[str, Any]
GROUP_FIRST = "group_id:"  # order_by "group_id:<id>" (the groups read model's members)
PUBLIC = ("id", "email", "name", "role", "profile_image_url", "bio", "gender", "date_of_birth",
          "info", "settings", "status", "created_at", "updated_at")


def _text(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: one in a name must not stop the projection for everyone."""
    return value.replace("\x00", "") if isinstance(value, str) else value


def _changed(row: Row | None, event: Any, **values: Any) -> Row | None:
    if row is None:
        return None
    return {**row, **{k: _text(v) for k, v in values.items()}, "updated_at": epoch(event.timestamp)}


class UsersProjector(RowProjector):
    name = "users"
    version = 3  # 3: NUL characters stripped from text columns
    tables = ("users",)
    row_table = "users"
    columns = ("id", "email", "name", "role", "profile_image_url", "bio", "gender",
               "date_of_birth", "info", "settings", "status", "api_key_hash", "created_at",
               "updated_at", "name_lc", "email_lc")
    event_base = User.Event

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {users} (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL,"
            " role TEXT NOT NULL, profile_image_url TEXT, bio TEXT, gender TEXT,"
            " date_of_birth TEXT, info TEXT, settings TEXT, status TEXT, api_key_hash TEXT,"
            " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, name_lc TEXT,"
            " email_lc TEXT)",
            "CREATE INDEX {users}_created ON {users} (created_at)",
            "CREATE INDEX {users}_name ON {users} (name_lc)",
            "CREATE UNIQUE INDEX {users}_api_key ON {users} (api_key_hash)",
        ]

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        for segment, erased in erasure_segments(events):
            super().apply_page(segment, tx)
            if erased is not None:  # the user's row is gone with User.Deleted: belt and braces
                tx.execute(f"DELETE FROM {self.t['users']} WHERE id = ?", (erased,))

    @singledispatchmethod
    def apply(self, event: Any, row: Row | None) -> Row | None:
        return row

    @apply.register
    def _registered(self, event: User.Registered, row: Row | None) -> Row | None:
        ts = epoch(event.timestamp)
        name, email = _text(event.name), _text(event.email)
        return {"id": str(event.originator_id), "email": email, "name": name,
                "role": event.role, "profile_image_url": _text(event.profile_image_url),
                "bio": None, "gender": None, "date_of_birth": None, "info": None,
                "settings": None, "status": "{}", "api_key_hash": None, "created_at": ts,
                "updated_at": ts, "name_lc": name.lower(), "email_lc": email.lower()}

    @apply.register
    def _profile(self, event: User.ProfileUpdated, row: Row | None) -> Row | None:
        values = {k: v for k, v in event.changes.items() if k in PUBLIC}
        if "name" in values:
            values["name_lc"] = str(values["name"]).lower()
        return _changed(row, event, **values)

    @apply.register
    def _email(self, event: User.EmailChanged, row: Row | None) -> Row | None:
        return _changed(row, event, email=event.email, email_lc=event.email.lower())

    @apply.register
    def _role(self, event: User.RoleChanged, row: Row | None) -> Row | None:
        return _changed(row, event, role=event.role)

    @apply.register
    def _settings(self, event: User.SettingsUpdated, row: Row | None) -> Row | None:
        return _changed(row, event, settings=json.dumps(event.settings))

    @apply.register
    def _info(self, event: User.InfoUpdated, row: Row | None) -> Row | None:
        return _changed(row, event, info=json.dumps(event.info))

    @apply.register
    def _status(self, event: User.StatusUpdated, row: Row | None) -> Row | None:
        return _changed(row, event, status=json.dumps(event.status))

    @apply.register
    def _api_key(self, event: User.ApiKeyCreated, row: Row | None) -> Row | None:
        return None if row is None else {**row, "api_key_hash": event.key_hash}

    @apply.register
    def _api_key_deleted(self, event: User.ApiKeyDeleted, row: Row | None) -> Row | None:
        return None if row is None else {**row, "api_key_hash": None}

    @apply.register
    def _deleted(self, event: User.Deleted, row: Row | None) -> Row | None:
        return None


def _row(row: Row) -> Row:
    out = {k: row.get(k) for k in PUBLIC}
    for key in ("info", "settings"):
        raw = out[key]
        out[key] = json.loads(raw) if raw else None
    status = json.loads(out.pop("status") or "{}")
    for key in ("status_emoji", "status_message", "status_expires_at"):
        out[key] = status.get(key)
    return out


class UsersQueries:
    def __init__(self, db: Database):
        self.db = db

    def get(self, user_id: str) -> Row | None:
        rows = self.db.query("SELECT * FROM users WHERE id = ?", (user_id,))
        return _row(rows[0]) if rows else None

    def by_api_key_hash(self, key_hash: str) -> Row | None:
        rows = self.db.query("SELECT * FROM users WHERE api_key_hash = ?", (key_hash,))
        return _row(rows[0]) if rows else None

    def page(self, query: str | None, order_by: str, direction: str, offset: int,
             limit: int | None) -> tuple[list[Row], int]:
        where, params = "", []
        query = _text(query)  # stored text has no NUL either
        if query:
            like = f"%{query.lower()}%"
            where, params = "WHERE name_lc LIKE ? OR email_lc LIKE ?", [like, like]
        column = {"name": "name_lc", "email": "email_lc",
                  "last_active_at": "updated_at"}.get(order_by, order_by)
        direction = "ASC" if direction == "asc" else "DESC"
        total = int(self.db.query(f"SELECT COUNT(*) AS n FROM users {where}", params)[0]["n"])
        order, order_params = f"{column} {direction}", []
        if order_by.startswith(GROUP_FIRST):  # the group's direct members first, then by name
            order = (f"CASE WHEN EXISTS (SELECT 1 FROM user_group_members m WHERE"
                     f" m.user_id = users.id AND m.group_id = ?) THEN 1 ELSE 0 END {direction},"
                     f" name_lc ASC")
            order_params = [order_by[len(GROUP_FIRST):]]
        sql = f"SELECT * FROM users {where} ORDER BY {order}, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [_row(r) for r in self.db.query(sql, [*params, *order_params])], total

    def ids(self) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM users ORDER BY id")]

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) AS n FROM users")[0]["n"])
