"""The models read model: the workspace model list, access filtering, tags and lookups.

Tables:
  models        one row per live model (key: the aggregate id; `id` is the client's model id).
                The profile image lives in its own column so lists never carry data URIs.
  model_access  the access index: one row per (model, principal, permission) the model grants,
                principal "public", "user:<id>", "group:<id>", or "all" (admins, who see every
                model); the owner holds read and write; write grants imply read. Each row
                repeats what lists filter and sort on (listed = has a base model, owner, id,
                created/updated time, lower-cased name), so the workspace list is answered
                from this table's (principal, permission, listed) index alone: the caller's
                few principals select ~their models, and only the page's rows are read from
                `models`. (With an OR over `models.user_id` PostgreSQL scans every model.)
  model_tags    (aid, tag) pairs from meta.tags, for the tag filter and the tag list.

Access rows and tags are derived from the final `models` row of each page, so they can never
disagree with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from application.access import Viewer
from application.models import ModelFilter
from domain.access import grants, principals
from domain.base import epoch
from domain.erasure import erasure_segments
from domain.model import Model
from infrastructure.sql import Database, Tx
from projections.runtime import Event, RowProjector

Row = dict[str, Any]
TAG_MAX = 255  # longer tag names are not indexed
FIELDS = ("base_model_id", "name", "meta", "params", "access_control", "is_active")
ADMINS = "all"  # the principal every model grants read to, for admins' lists
LIST_COLUMNS = ("aid", "id", "user_id", "base_model_id", "name", "meta", "params",
                "access_control", "is_active", "created_at", "updated_at")


def _text(value: Any) -> str | None:
    return None if value is None else str(value).replace("\x00", "")


def _lower(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else text.lower()


def _split_meta(meta: dict[str, Any] | None) -> tuple[str, str | None]:
    """(meta JSON without the profile image, the image URL)."""
    meta = dict(meta or {})
    image = meta.pop("profile_image_url", None)
    return json.dumps(meta), (image if isinstance(image, str) else None)


def tag_names(meta: Any) -> list[str]:
    """meta.tags as names: `{"name": ...}` objects or plain strings, as the reference stores."""
    tags = meta.get("tags") if isinstance(meta, dict) else None
    names = []
    for tag in tags if isinstance(tags, list) else []:
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name.strip() and len(name) <= TAG_MAX:
            names.append(name.replace("\x00", ""))
    return list(dict.fromkeys(names))


def _fields(row: Row | None, values: dict[str, Any]) -> Row:
    """Row columns for model fields (as the aggregate names them)."""
    out = dict(row or {})
    for key, value in values.items():
        if key == "meta":
            out["meta"], out["profile_image_url"] = _split_meta(value)
        elif key in ("params",):
            out[key] = json.dumps(value or {})
        elif key == "access_control":
            out[key] = None if value is None else json.dumps(value)
        elif key == "is_active":
            out[key] = int(bool(value))
        elif key == "name":
            out["name"], out["name_lc"] = _text(value) or "", _lower(value) or ""
        elif key == "base_model_id":
            out["base_model_id"], out["base_lc"] = _text(value), _lower(value)
        elif key == "user_id":
            out[key] = _text(value)
    return out


class ModelsProjector(RowProjector):
    name = "models"
    version = 6
    tables = ("models", "model_access", "model_tags")
    row_table = "models"
    columns = ("aid", "id", "user_id", "base_model_id", "base_lc", "name", "name_lc", "meta",
               "profile_image_url", "params", "access_control", "is_active", "created_at",
               "updated_at")
    event_base = Model.Event

    def ddl(self) -> list[str]:
        # Byte-order text on PostgreSQL, as SQLite's default: lists group and sort thousands of
        # keys per request, and a linguistic collation makes each comparison far dearer.
        text = 'TEXT COLLATE "C"' if self.dialect == "postgres" else "TEXT"
        return [
            # The keys share the access index's collation, so joins on them use the indexes.
            f"CREATE TABLE {{models}} (aid {text} PRIMARY KEY, id {text} NOT NULL,"
            " user_id TEXT NOT NULL, base_model_id TEXT, base_lc TEXT, name TEXT NOT NULL,"
            " name_lc TEXT NOT NULL,"
            " meta TEXT NOT NULL, profile_image_url TEXT, params TEXT NOT NULL,"
            " access_control TEXT, is_active INTEGER NOT NULL, created_at BIGINT NOT NULL,"
            " updated_at BIGINT NOT NULL)",
            "CREATE UNIQUE INDEX {models}_id ON {models} (id)",
            "CREATE INDEX {models}_created ON {models} (created_at)",
            "CREATE INDEX {models}_user ON {models} (user_id)",
            f"CREATE TABLE {{model_access}} (aid {text} NOT NULL, principal {text} NOT NULL,"
            f" permission {text} NOT NULL, listed INTEGER NOT NULL, user_id {text} NOT NULL,"
            f" id {text} NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
            f" name_lc {text} NOT NULL, PRIMARY KEY (aid, principal, permission))",
            "CREATE INDEX {model_access}_principal ON {model_access}"
            " (principal, permission, listed)",
            "CREATE TABLE {model_tags} (aid TEXT NOT NULL, tag TEXT NOT NULL,"
            " tag_lc TEXT NOT NULL, PRIMARY KEY (aid, tag))",
            "CREATE INDEX {model_tags}_tag ON {model_tags} (tag_lc, aid)",
        ]

    @singledispatchmethod
    def apply(self, event: Any, row: Row | None) -> Row | None:
        return row

    @apply.register
    def _created(self, event: Model.Created, row: Row | None) -> Row | None:
        created: Any = event  # the decorator's event class: attributes are its arguments
        values = {k: getattr(created, k, None) for k in FIELDS}
        return self._born(event, created.model_id, created.user_id, values)

    @apply.register
    def _recreated(self, event: Model.Recreated, row: Row | None) -> Row | None:
        return self._born(event, event.model_id, event.user_id, event.fields)

    def _born(self, event: Any, model_id: str, user_id: str, values: dict[str, Any]) -> Row:
        fields = {k: values.get(k) for k in FIELDS}
        ts = epoch(event.timestamp)
        return {**_fields(None, {**fields, "user_id": user_id}), "aid": str(event.originator_id),
                "id": _text(model_id), "created_at": ts, "updated_at": ts}

    @apply.register
    def _updated(self, event: Model.Updated, row: Row | None) -> Row | None:
        return None if row is None else {**_fields(row, event.changes), "updated_at": epoch(event.timestamp)}

    @apply.register
    def _toggled(self, event: Model.Toggled, row: Row | None) -> Row | None:
        if row is None:
            return None
        return {**row, "is_active": int(bool(event.is_active)), "updated_at": epoch(event.timestamp)}

    @apply.register
    def _deleted(self, event: Model.Deleted, row: Row | None) -> Row | None:
        return None

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
        self._store(tx, rows)
        self._index(tx, rows)

    def _erase(self, tx: Tx, user_id: str) -> None:
        """An erased user's models (deleted before the erasure: belt and braces)."""
        mine = f"SELECT aid FROM {self.t['models']} WHERE user_id = ?"
        for table in ("model_access", "model_tags"):
            tx.execute(f"DELETE FROM {self.t[table]} WHERE aid IN ({mine})", (user_id,))
        tx.execute(f"DELETE FROM {self.t['models']} WHERE user_id = ?", (user_id,))

    def _index(self, tx: Tx, rows: dict[str, Row | None]) -> None:
        access, tags = self.t["model_access"], self.t["model_tags"]
        keys = [(k,) for k in rows]
        tx.executemany(f"DELETE FROM {access} WHERE aid = ?", keys)
        tx.executemany(f"DELETE FROM {tags} WHERE aid = ?", keys)
        live = [(k, r) for k, r in rows.items() if r is not None]
        tx.executemany(f"INSERT INTO {access} (aid, principal, permission, listed, user_id, id,"
                       f" created_at, updated_at, name_lc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(k, p, perm, int(r["base_model_id"] is not None), r["user_id"], r["id"],
                         r["created_at"], r["updated_at"], r["name_lc"])
                        for k, r in live for p, perm in sorted(_grants(r))])
        tx.executemany(f"INSERT INTO {tags} (aid, tag, tag_lc) VALUES (?, ?, ?)",
                       [(k, t, t.lower()) for k, r in live for t in tag_names(json.loads(r["meta"]))])


def _grants(row: Row) -> set[tuple[str, str]]:
    raw = row.get("access_control")
    owner = f"user:{row['user_id']}"
    return grants(None if raw is None else json.loads(raw)) | {
        (owner, "read"), (owner, "write"), (ADMINS, "read")}


# -- queries ----------------------------------------------------------------------------------
def like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


# Owner summaries ({id, name, email, role}) come from the users read model.
OWNER = "u.name AS owner_name, u.email AS owner_email, u.role AS owner_role"
OWNER_JOIN = "LEFT JOIN users u ON u.id = m.user_id"


def decode(row: Row, full: bool = False) -> Row:
    """A read-model row as the service hands it on (JSON parsed; the image back in meta)."""
    out = {k: row[k] for k in LIST_COLUMNS if k in row and k != "aid"}
    if "owner_name" in row:
        out["user"] = None if row["owner_name"] is None else {
            "id": row["user_id"], "name": row["owner_name"], "email": row["owner_email"],
            "role": row["owner_role"]}
    out["meta"] = json.loads(row["meta"])
    if full and row.get("profile_image_url") is not None:
        out["meta"]["profile_image_url"] = row["profile_image_url"]
    out["params"] = json.loads(row["params"])
    raw = row.get("access_control")
    out["access_control"] = None if raw is None else json.loads(raw)
    out["is_active"] = bool(row["is_active"])
    return out


class ModelsQueries:
    def __init__(self, db: Database):
        self.db = db

    def _among(self, column: str, values: list[str]) -> tuple[str, list[Any]]:
        """`column IN values`. PostgreSQL gets one array parameter, so the statement's text is
        the same whatever the caller's number of groups: psycopg prepares it once per
        connection and its planning (milliseconds for the list query) is not repeated."""
        if self.db.dialect == "postgres":
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({marks(values)})", list(values)

    def _visible(self, viewer: Viewer | None, permission: str = "read") -> tuple[str, list[Any]]:
        """SQL (and params) admitting the models `viewer` may read/write; admins: everything."""
        if viewer is None:
            return "1 = 1", []
        among, params = self._among("principal", principals(viewer.user_id, viewer.group_ids))
        return (f"m.aid IN (SELECT aid FROM model_access WHERE permission = ? AND {among})",
                [permission, *params])

    def _listing(self, viewer: Viewer | None, flt: ModelFilter) -> tuple[str, list[Any]]:
        """The access-index rows of the listed models the viewer may read, filtered."""
        who = [ADMINS] if viewer is None else principals(viewer.user_id, viewer.group_ids)
        among, params = self._among("a.principal", who)
        clauses = [f"a.permission = 'read' AND a.listed = 1 AND {among}"]
        if flt.view_option in ("created", "shared"):
            clauses.append("a.user_id = ?" if flt.view_option == "created" else "a.user_id <> ?")
            params.append(flt.user_id)
        if flt.tag:
            clauses.append("a.aid IN (SELECT aid FROM model_tags WHERE tag_lc = ?)")
            params.append(flt.tag.lower())
        if flt.query:
            clauses.append("a.aid IN (SELECT m.aid FROM models m WHERE m.name_lc LIKE ? ESCAPE"
                           " '\\' OR m.base_lc LIKE ? ESCAPE '\\' OR m.user_id IN (SELECT id"
                           " FROM users WHERE name_lc LIKE ? ESCAPE '\\' OR email_lc LIKE ?"
                           " ESCAPE '\\'))")
            params += [like(flt.query)] * 4
        return " AND ".join(clauses), params

    def page(self, viewer: Viewer | None, flt: ModelFilter, offset: int,
             limit: int) -> tuple[list[Row], int]:
        """One round trip: the access index yields the narrow visible set (a model reachable
        through several principals once), which both the count and the page read; only the
        page's rows are fetched from `models`."""
        where, params = self._listing(viewer, flt)
        key = {"name": "name_lc", "updated_at": "updated_at"}.get(flt.order_by, "created_at")
        direction = "ASC" if flt.direction == "asc" else "DESC"
        cols = ", ".join(f"m.{c}" for c in LIST_COLUMNS)
        # A model's rows agree on id and sort key: grouping by the aid alone hashes less.
        visible = (f"SELECT a.aid, MIN(a.id) AS id, MIN(a.{key}) AS k FROM model_access a"
                   f" WHERE {where} GROUP BY a.aid")
        rows = self.db.query(
            f"WITH visible AS MATERIALIZED ({visible}), page AS (SELECT aid, id, k FROM visible"
            f" ORDER BY k {direction}, id LIMIT {int(limit)} OFFSET {int(offset)})"
            f" SELECT (SELECT COUNT(*) FROM visible) AS total, {cols}, {OWNER} FROM page p"
            f" JOIN models m ON m.aid = p.aid {OWNER_JOIN} ORDER BY p.k {direction}, p.id",
            params)
        if rows:
            return [decode(r) for r in rows], int(rows[0]["total"])
        if offset == 0:
            return [], 0
        total = self.db.query(f"SELECT COUNT(*) AS n FROM ({visible}) v", params)
        return [], int(total[0]["n"])

    def get(self, model_id: str) -> Row | None:
        rows = self.db.query(f"SELECT m.*, {OWNER} FROM models m {OWNER_JOIN} WHERE m.id = ?",
                             (model_id,))
        return decode(rows[0], full=True) if rows else None

    def base(self, tag: str | None) -> list[Row]:
        where, params = "m.base_model_id IS NULL", []
        if tag:
            where += " AND m.aid IN (SELECT aid FROM model_tags WHERE tag_lc = ?)"
            params.append(tag.lower())
        rows = self.db.query(f"SELECT * FROM models m WHERE {where} ORDER BY m.created_at, m.id",
                             params)
        return [decode(r, full=True) for r in rows]

    def tags(self, viewer: Viewer | None, base: bool = False) -> list[str]:
        visible, params = self._visible(viewer)
        kind = "IS NULL" if base else "IS NOT NULL"
        rows = self.db.query(f"SELECT DISTINCT t.tag FROM model_tags t JOIN models m ON"
                             f" m.aid = t.aid WHERE m.base_model_id {kind} AND {visible}", params)
        return sorted(r["tag"] for r in rows)

    def exportable(self, viewer: Viewer | None, ids: list[str] | None) -> list[Row]:
        """Admins: every model with a base; others: the ones they may write."""
        visible, params = self._visible(viewer, "write")
        where = f"m.base_model_id IS NOT NULL AND {visible}"
        if ids:
            where += f" AND m.id IN ({marks(ids)})"
            params += ids
        rows = self.db.query(f"SELECT * FROM models m WHERE {where} ORDER BY m.created_at, m.id",
                             params)
        return [decode(r, full=True) for r in rows]

    def ids(self) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM models ORDER BY id")]

    def every(self) -> list[Row]:
        """Every live model, presets and base-model entries (the model list merges them)."""
        rows = self.db.query("SELECT * FROM models m ORDER BY m.created_at, m.id")
        return [decode(r) for r in rows]

    def image(self, model_id: str) -> Row | None:
        rows = self.db.query("SELECT id, user_id, access_control, profile_image_url, updated_at"
                             " FROM models WHERE id = ?", (model_id,))
        if not rows:
            return None
        raw = rows[0]["access_control"]
        return {**rows[0], "access_control": None if raw is None else json.loads(raw)}
