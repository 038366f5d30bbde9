"""A page of chat events folded in memory, then written with a few statements per table.

Every chats handler but the three that drop rows (purge, owner deleted, owner erased) changes the
rows of one chat. For a run of such events the chats projector loads the touched `chat_list` rows,
tag sets and deleted owners with one query each, folds the events over them here and writes each
changed row once: a message no longer costs two statements, which was most of a rebuild's time.
The fold keeps the handlers' rules exactly (rebuild and live agree row for row, and the tests
compare them): text and tag rows exist only for a listed chat and take its owner's id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from infrastructure.sql import Tx, insert_rows

KEY_LIMIT = 200  # longer message ids / tags are hashed: btree keys have a size limit

LIST_COLUMNS = ("id", "user_id", "title", "title_lc", "created_at", "updated_at", "pinned",
                "archived", "folder_id", "share_id", "internal", "deleted_at")
_LIST_TYPES = ("text", "text", "text", "text", "bigint", "bigint", "int", "int", "text", "text",
               "int", "bigint")
_TEXT_COLUMNS = ("chat_id", "kind", "message_id", "user_id", "body", "body_lc")
_TAG_COLUMNS = ("chat_id", "user_id", "tag")
_CHUNK = 500  # ids per IN (...) list


def key(value: str) -> str:
    """A bounded index key for a client-chosen string (message id, tag)."""
    if len(value) <= KEY_LIMIT:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


class ChatPage:
    def __init__(self, tables: dict[str, str], tx: Tx):
        self.t = tables
        self.tx = tx
        self.rows: dict[str, dict[str, Any] | None] = {}
        self.changed: dict[str, None] = {}  # chat ids, in first-change order
        self.texts: dict[tuple[str, str, str], tuple[str, str]] = {}  # -> (owner, body)
        self.tags: dict[str, dict[str, str]] = {}  # chat -> {tag: owner}, chats whose tags moved
        self._stored_tags: dict[str, dict[str, str]] = {}
        self.gone: set[str] = set()

    # -- loading ----------------------------------------------------------------------------
    def load(self, chats: Iterable[str], owners: Iterable[str], tagged: Iterable[str]) -> None:
        """What the run's events will read: their chats' rows, the deleted owners among the
        creators, the stored tags of chats whose tags change."""
        chat_ids = list(dict.fromkeys(chats))
        self.rows = dict.fromkeys(chat_ids)
        for row in self._select("chat_list", ", ".join(LIST_COLUMNS), "id", chat_ids):
            self.rows[row["id"]] = row
        self.gone = {r["user_id"] for r in self._select("chat_gone_users", "user_id", "user_id",
                                                        list(set(owners)))}
        tagged_ids = list(set(tagged))
        self._stored_tags = {chat_id: {} for chat_id in tagged_ids}
        for row in self._select("chat_tags", "chat_id, tag, user_id", "chat_id", tagged_ids):
            self._stored_tags[row["chat_id"]][row["tag"]] = row["user_id"]

    def _select(self, table: str, columns: str, column: str, values: list[str]
                ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            found.extend(self.tx.execute(
                f"SELECT {columns} FROM {self.t[table]} WHERE {column} IN ({marks})", chunk))
        return found

    # -- the fold ---------------------------------------------------------------------------
    def row(self, chat_id: str) -> dict[str, Any] | None:
        return self.rows.get(chat_id)

    def create(self, row: dict[str, Any]) -> None:
        """Insert the chat's row unless it has one (a replayed creation changes nothing)."""
        if self.rows.get(row["id"]) is None:
            self.rows[row["id"]] = row
            self.changed[row["id"]] = None

    def set(self, chat_id: str, **values: Any) -> None:
        row = self.rows.get(chat_id)
        if row is not None:
            row.update(values)
            self.changed[chat_id] = None

    def put_text(self, chat_id: str, kind: str, message_id: str, body: str) -> None:
        """Insert or replace one text row, only while the chat is listed."""
        row = self.rows.get(chat_id)
        if row is None:
            return
        slot = (chat_id, kind, key(message_id))
        owner = self.texts[slot][0] if slot in self.texts else row["user_id"]
        self.texts[slot] = (owner, body)

    def set_tags(self, chat_id: str, tags: Iterable[str]) -> None:
        row = self.rows.get(chat_id)
        self.tags[chat_id] = {} if row is None else {key(t): row["user_id"] for t in tags}

    def add_tag(self, chat_id: str, tag: str) -> None:
        row = self.rows.get(chat_id)
        if row is not None:
            self._tags(chat_id).setdefault(key(tag), row["user_id"])

    def remove_tag(self, chat_id: str, tag: str) -> None:
        self._tags(chat_id).pop(key(tag), None)

    def _tags(self, chat_id: str) -> dict[str, str]:
        if chat_id not in self.tags:
            self.tags[chat_id] = dict(self._stored_tags.get(chat_id, {}))
        return self.tags[chat_id]

    # -- writing ----------------------------------------------------------------------------
    def flush(self) -> None:
        tx, t = self.tx, self.t
        rows = [self.rows[c] for c in self.changed]
        updates = ", ".join(f"{c} = excluded.{c}" for c in LIST_COLUMNS[1:])
        insert_rows(tx, t["chat_list"], LIST_COLUMNS, _LIST_TYPES,
                    [tuple(r[c] for c in LIST_COLUMNS) for r in rows if r is not None],
                    f"ON CONFLICT (id) DO UPDATE SET {updates}")
        insert_rows(tx, t["chat_text"], _TEXT_COLUMNS, ("text",) * 6,
                    [(chat, kind, mid, owner, body, body.lower())
                     for (chat, kind, mid), (owner, body) in self.texts.items()],
                    "ON CONFLICT (chat_id, kind, message_id) DO UPDATE SET body = excluded.body,"
                    " body_lc = excluded.body_lc")
        if self.tags:
            self._delete_tags(list(self.tags))
            insert_rows(tx, t["chat_tags"], _TAG_COLUMNS, ("text",) * 3,
                        [(chat, owner, tag) for chat, tags in self.tags.items()
                         for tag, owner in tags.items()])
        self.changed, self.texts, self.tags = {}, {}, {}

    def _delete_tags(self, chat_ids: list[str]) -> None:
        table = self.t["chat_tags"]
        if self.tx.dialect == "postgres":
            self.tx.execute(f"DELETE FROM {table} WHERE chat_id = ANY(?::text[])", [chat_ids])
            return
        self.tx.executemany(f"DELETE FROM {table} WHERE chat_id = ?", [(c,) for c in chat_ids])
