"""The groups read model: groups, their direct members, and who belongs where through parents.

Tables:
  user_groups         one row per group ever created; `deleted` rows stay (ids only, so that a
                      chain through a group deleted in a race still resolves) and are never shown.
                      Deleting a group moves its children to its parent, as Open WebUI 0.12.4 does.
  user_group_members  (group, user) for direct members of live groups.
  user_group_gone     users deleted or erased: members of no group, and never added again (an add
                      decided just before the deletion is recorded after it).

Inherited membership: a member of a group is a member of every ancestor (a recursive query up
the parent links; UNION ends on a cycle however one came about).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from domain.base import epoch
from domain.erasure import Erasure
from domain.group import Group
from domain.user import User
from infrastructure.sql import Database, Tx
from projections.runtime import Projector

Row = dict[str, Any]
JSON_FIELDS = ("permissions", "data", "meta")
PAGE = 30  # members per page (the reference's)


def _text(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


class GroupsProjector(Projector):
    name = "groups"
    version = 1
    tables = ("user_groups", "user_group_members", "user_group_gone")

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {user_groups} (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
            " name TEXT NOT NULL, description TEXT NOT NULL, permissions TEXT, data TEXT,"
            " meta TEXT, parent_group_id TEXT, deleted INTEGER NOT NULL,"
            " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            "CREATE INDEX {user_groups}_parent ON {user_groups} (parent_group_id)",
            "CREATE TABLE {user_group_members} (group_id TEXT NOT NULL, user_id TEXT NOT NULL,"
            " PRIMARY KEY (group_id, user_id))",
            "CREATE INDEX {user_group_members}_user ON {user_group_members} (user_id, group_id)",
            "CREATE TABLE {user_group_gone} (user_id TEXT PRIMARY KEY)",
        ]

    @singledispatchmethod
    def handle(self, event: Any, tx: Tx) -> None:
        pass

    @handle.register
    def _created(self, event: Group.Created, tx: Tx) -> None:
        created: Any = event  # the decorator's event class: attributes are its arguments
        ts = epoch(event.timestamp)
        tx.execute(f"INSERT INTO {self.t['user_groups']} (id, user_id, name, description,"
                   f" permissions, data, meta, parent_group_id, deleted, created_at, updated_at)"
                   f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                   (str(event.originator_id), created.user_id, _text(created.name),
                    _text(created.description), _json(created.permissions), _json(created.data),
                    _json(created.meta), self._live_parent(tx, created.parent_group_id), ts, ts))

    @handle.register
    def _updated(self, event: Group.Updated, tx: Tx) -> None:
        values: dict[str, Any] = {"updated_at": epoch(event.timestamp)}
        for key, value in event.changes.items():
            if key in JSON_FIELDS:
                values[key] = _json(value)
            elif key == "parent_group_id":
                values[key] = self._live_parent(tx, value)
            else:
                values[key] = _text(value)
        self._set(tx, str(event.originator_id), values)

    @handle.register
    def _members_added(self, event: Group.MembersAdded, tx: Tx) -> None:
        group_id, table = str(event.originator_id), self.t["user_group_members"]
        gone = {r["user_id"] for r in tx.execute(
            f"SELECT user_id FROM {self.t['user_group_gone']}")} if event.user_ids else set()
        tx.executemany(f"INSERT INTO {table} (group_id, user_id) VALUES (?, ?)"
                       f" ON CONFLICT (group_id, user_id) DO NOTHING",
                       [(group_id, u) for u in event.user_ids if u not in gone])
        self._set(tx, group_id, {"updated_at": epoch(event.timestamp)})

    @handle.register
    def _members_removed(self, event: Group.MembersRemoved, tx: Tx) -> None:
        group_id = str(event.originator_id)
        tx.executemany(f"DELETE FROM {self.t['user_group_members']} WHERE group_id = ?"
                       f" AND user_id = ?", [(group_id, u) for u in event.user_ids])
        self._set(tx, group_id, {"updated_at": epoch(event.timestamp)})

    @handle.register
    def _deleted(self, event: Group.Deleted, tx: Tx) -> None:
        group_id, groups = str(event.originator_id), self.t["user_groups"]
        rows = tx.execute(f"SELECT parent_group_id FROM {groups} WHERE id = ?", (group_id,))
        parent = rows[0]["parent_group_id"] if rows else None
        tx.execute(f"UPDATE {groups} SET parent_group_id = ?, updated_at = ?"
                   f" WHERE parent_group_id = ?", (parent, epoch(event.timestamp), group_id))
        tx.execute(f"DELETE FROM {self.t['user_group_members']} WHERE group_id = ?", (group_id,))
        tx.execute(f"UPDATE {groups} SET deleted = 1 WHERE id = ?", (group_id,))

    @handle.register
    def _user_deleted(self, event: User.Deleted, tx: Tx) -> None:
        self._gone(tx, str(event.originator_id))

    @handle.register
    def _user_erased(self, event: Erasure.UserErased, tx: Tx) -> None:
        self._gone(tx, event.user_id)

    def _gone(self, tx: Tx, user_id: str) -> None:
        tx.execute(f"DELETE FROM {self.t['user_group_members']} WHERE user_id = ?", (user_id,))
        tx.execute(f"INSERT INTO {self.t['user_group_gone']} (user_id) VALUES (?)"
                   f" ON CONFLICT (user_id) DO NOTHING", (user_id,))

    def _set(self, tx: Tx, group_id: str, values: dict[str, Any]) -> None:
        columns = ", ".join(f"{k} = ?" for k in values)
        tx.execute(f"UPDATE {self.t['user_groups']} SET {columns} WHERE id = ?",
                   (*values.values(), group_id))

    def _live_parent(self, tx: Tx, parent_id: str | None) -> str | None:
        """The nearest live group at or above `parent_id` (a parent deleted meanwhile stands
        aside for its own parent, as its children did when it was deleted)."""
        seen: set[str] = set()
        while parent_id is not None and parent_id not in seen:
            seen.add(parent_id)
            rows = tx.execute(f"SELECT parent_group_id, deleted FROM {self.t['user_groups']}"
                              f" WHERE id = ?", (parent_id,))
            if not rows or not rows[0]["deleted"]:
                return parent_id
            parent_id = rows[0]["parent_group_id"]
        return None


# -- queries ----------------------------------------------------------------------------------
COUNT = ("(SELECT COUNT(*) FROM user_group_members m WHERE m.group_id = g.id) AS member_count")
# The groups a user is in, directly or as an inherited member of an ancestor (`?` = user id).
MEMBER_OF = ("WITH RECURSIVE chain(group_id) AS ("
             " SELECT group_id FROM user_group_members WHERE user_id = ?"
             " UNION SELECT p.parent_group_id FROM chain c JOIN user_groups p ON p.id = c.group_id"
             " WHERE p.parent_group_id IS NOT NULL) ")
# A group and its descendants (`?` = group id).
SUBTREE = ("WITH RECURSIVE tree(group_id) AS (SELECT CAST(? AS TEXT)"
           " UNION SELECT g.id FROM user_groups g JOIN tree t ON g.parent_group_id = t.group_id"
           " WHERE g.deleted = 0) ")


# The access indexes of the items grants are given on (one row per item, principal, permission).
GRANT_INDEXES = ("model_access", "tool_access", "knowledge_access", "prompt_access")
# (answer key, table, its access index, which rows count) for previews of what a group reaches
REACHABLE = (("models", "models", "model_access", "t.is_active = 1"),
             ("knowledge", "knowledge", "knowledge_access", "1 = 1"),
             ("tools", "tools", "tool_access", "1 = 1"))


def _group(row: Row) -> Row:
    out = {k: row[k] for k in ("id", "user_id", "name", "description", "parent_group_id",
                               "created_at", "updated_at")}
    for key in JSON_FIELDS:
        out[key] = json.loads(row[key]) if row[key] is not None else None
    if "member_count" in row:
        out["member_count"] = int(row["member_count"] or 0)
    return out


def _share(row: Row) -> Any:
    """data.config.share as stored (None when unset)."""
    config = ((row.get("data") or {}).get("config")) if isinstance(row.get("data"), dict) else None
    return config.get("share") if isinstance(config, dict) else None


class GroupsQueries:
    def __init__(self, db: Database):
        self.db = db

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """A query's rows. Before the projections' first start has created their tables (a fresh
        installation, projectors starting beside the API) there are none: nobody is in a group
        and nothing is granted yet."""
        try:
            return self.db.query(sql, params)
        except Exception as error:
            text = str(error)
            if "no such table" in text or ("relation" in text and "does not exist" in text):
                return []
            raise

    def _groups(self, where: str = "", params: tuple[Any, ...] = (), prefix: str = "") -> list[Row]:
        rows = self._rows(f"{prefix}SELECT g.*, {COUNT} FROM user_groups g WHERE g.deleted = 0"
                          f" {where} ORDER BY g.updated_at DESC, g.id", params)
        return [_group(r) for r in rows]

    def all(self) -> list[Row]:
        return self._groups()

    def get(self, group_id: str) -> Row | None:
        found = self._groups("AND g.id = ?", (group_id,))
        return found[0] if found else None

    def of_member(self, user_id: str, include_inherited: bool = True) -> list[Row]:
        """The user's groups, newest change first; with their parents' when inherited."""
        if not include_inherited:
            return self._groups("AND g.id IN (SELECT group_id FROM user_group_members"
                                " WHERE user_id = ?)", (user_id,))
        return self._groups("AND g.id IN (SELECT group_id FROM chain)", (user_id,), MEMBER_OF)

    def _membership(self, sql: str, user_id: str) -> list[Row]:
        return self._rows(sql, (user_id,))

    def group_ids(self, user_id: str) -> list[str]:
        """Every group the user is in, inherited ones included (the GroupMembership port)."""
        rows = self._membership(f"{MEMBER_OF}SELECT g.id FROM user_groups g JOIN chain c"
                                f" ON c.group_id = g.id WHERE g.deleted = 0", user_id)
        return sorted(r["id"] for r in rows)

    def permissions_of(self, user_id: str) -> list[dict[str, Any]]:
        """The permissions of every group the user is in (inherited ones included)."""
        rows = self._membership(f"{MEMBER_OF}SELECT g.permissions FROM user_groups g JOIN chain c"
                                f" ON c.group_id = g.id WHERE g.deleted = 0"
                                f" AND g.permissions IS NOT NULL", user_id)
        return [json.loads(r["permissions"]) for r in rows]

    def shareable(self, user_id: str, share: bool) -> list[Row]:
        """The groups a user may share with (share=true): open ones, and members-only ones the
        user is in; share=false: the groups whose sharing is switched off."""
        mine = set(self.group_ids(user_id))
        out = []
        for group in self.all():
            value = _share(group)
            text = str(value).lower() if value is not None else None
            if not share:
                if group["data"] is not None and text == "false":
                    out.append(group)
            elif text in (None, "true", "1") or (text == "members" and group["id"] in mine):
                out.append(group)
        return out

    def member_ids(self, group_id: str) -> list[str]:
        rows = self._rows("SELECT user_id FROM user_group_members WHERE group_id = ?"
                          " ORDER BY user_id", (group_id,))
        return [r["user_id"] for r in rows]

    def direct_group_ids(self, user_ids: list[str]) -> dict[str, list[str]]:
        if not user_ids:
            return {}
        marks = ", ".join("?" for _ in user_ids)
        rows = self._rows(f"SELECT m.user_id, m.group_id FROM user_group_members m"
                          f" JOIN user_groups g ON g.id = m.group_id"
                          f" WHERE m.user_id IN ({marks}) ORDER BY g.updated_at DESC, g.id",
                          list(user_ids))
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(row["user_id"], []).append(row["group_id"])
        return out

    def existing_users(self, user_ids: list[str]) -> list[str]:
        """Which of these ids name users that exist (the users read model), in the given order."""
        if not user_ids:
            return []
        found: set[str] = set()
        unique = list(dict.fromkeys(user_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            found |= {r["id"] for r in self._rows(
                f"SELECT id FROM users WHERE id IN ({marks})", chunk)}
        return [u for u in unique if u in found]

    def granting(self, principal: str) -> list[str]:
        """Aggregate ids of the models, tools, knowledge bases and prompts that grant a principal
        ("group:<id>", "user:<id>") anything (their read models' access indexes): the
        GrantIndex port."""
        found: set[str] = set()
        for index in GRANT_INDEXES:  # each alone: one not created yet answers nothing
            found |= {str(r["aid"]) for r in self._rows(
                f"SELECT aid FROM {index} WHERE principal = ?", (principal,))}
        return sorted(found)

    def ancestors(self, group_id: str) -> list[Row]:
        """The group's live ancestors, nearest first."""
        chain: list[Row] = []
        row = self.get(group_id)
        seen = {group_id}
        while row is not None and row["parent_group_id"] not in (None, *seen):
            seen.add(row["parent_group_id"])
            row = self.get(row["parent_group_id"])
            if row is not None:
                chain.append(row)
        return chain

    def reachable(self, principals: list[str], owner: str | None) -> dict[str, Row]:
        """What these principals may read (and `owner` owns): {"models"|"knowledge"|"tools":
        {"items": [{id, name}], "total": how many there are}}; models count when active."""
        out: dict[str, Row] = {}
        marks = ", ".join("?" for _ in principals)
        for key, table, access, live in REACHABLE:
            total = self.db.query(f"SELECT COUNT(*) AS n FROM {table} t WHERE {live}")[0]["n"]
            rows = self.db.query(
                f"SELECT t.id, t.name FROM {table} t WHERE {live} AND (t.user_id = ? OR t.aid IN"
                f" (SELECT aid FROM {access} WHERE permission = 'read' AND principal IN ({marks})))"
                f" ORDER BY t.created_at, t.id", (owner or "", *principals))
            out[key] = {"items": [{"id": r["id"], "name": r["name"]} for r in rows],
                        "total": int(total)}
        return out

    def users(self, group_id: str) -> list[Row]:
        """The direct members as user rows (POST /id/{id}/users)."""
        return self.db.query("SELECT u.* FROM users u JOIN user_group_members m ON m.user_id = u.id"
                             " WHERE m.group_id = ? ORDER BY u.name_lc, u.id", (group_id,))

    def members(self, group_id: str, membership: str, query: str,
                page: int) -> tuple[list[Row], int, dict[str, int]]:
        """Users of a group: direct, inherited (through a descendant only) or effective (both),
        searched by name or email, 30 a page; with each user's source groups in the subtree."""
        effective = (f"{SUBTREE}, eff(user_id) AS (SELECT DISTINCT m.user_id FROM"
                     f" user_group_members m JOIN tree t ON t.group_id = m.group_id) ")
        direct = "SELECT user_id FROM user_group_members WHERE group_id = ?"
        counts = self.db.query(
            f"{effective}SELECT (SELECT COUNT(*) FROM eff) AS effective,"
            f" (SELECT COUNT(*) FROM user_group_members WHERE group_id = ?) AS direct",
            (group_id, group_id))[0]
        where, params = "u.id IN (SELECT user_id FROM eff)", [group_id]
        if membership == "direct":
            where += f" AND u.id IN ({direct})"
            params.append(group_id)
        elif membership == "inherited":
            where += f" AND u.id NOT IN ({direct})"
            params.append(group_id)
        if query:
            like = f"%{_text(query).lower()}%"
            where += " AND (u.name_lc LIKE ? OR u.email_lc LIKE ?)"
            params += [like, like]
        total = int(self.db.query(f"{effective}SELECT COUNT(*) AS n FROM users u WHERE {where}",
                                  params)[0]["n"])
        users = self.db.query(f"{effective}SELECT u.* FROM users u WHERE {where}"
                              f" ORDER BY u.name, u.id LIMIT {PAGE} OFFSET {(page - 1) * PAGE}",
                              params)
        sources = self._sources(group_id, [u["id"] for u in users])
        for user in users:
            user["sources"] = sources.get(user["id"], [])
        direct_n, effective_n = int(counts["direct"]), int(counts["effective"])
        return users, total, {"direct": direct_n, "effective": effective_n,
                              "inherited": effective_n - direct_n}

    def _sources(self, group_id: str, user_ids: list[str]) -> dict[str, list[str]]:
        if not user_ids:
            return {}
        marks = ", ".join("?" for _ in user_ids)
        rows = self.db.query(f"{SUBTREE}SELECT m.user_id, m.group_id FROM user_group_members m"
                             f" JOIN tree t ON t.group_id = m.group_id WHERE m.user_id IN ({marks})",
                             (group_id, *user_ids))
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(row["user_id"], []).append(row["group_id"])
        return out
