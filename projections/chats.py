"""The chats read model: the chat list (no chat bodies), tags, shares and full-text search.

Tables:
  chat_list        one row per chat, live or in the trash: title, flags, placement, timestamps;
                   deleted_at is set while the chat is in the trash, and every list, tag and
                   search query leaves such rows out. Purging a chat drops all its rows.
  chat_tags        (chat, tag) pairs.
  chat_text        one row per message (kind 'm') plus one for the title (kind 't'): the text
                   that search matches and snippets quote.
  chat_fts         SQLite: an FTS5 index over chat_text, kept in sync by triggers.
                   PostgreSQL indexes chat_text.tsv (a generated tsvector with a GIN index)
                   instead; there chat_fts is an empty placeholder so both dialects share one
                   table list.
  chat_gone_users  owners deleted from the system: their chats leave every table, and late
                   events of theirs are not projected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any

from application.chat_queries import ListFilter, SearchQuery
from domain.base import epoch
from domain.chat import Chat
from domain.erasure import Erasure
from domain.user import User
from infrastructure.sql import Database, Tx
from projections.chat_page import ChatPage, key
from projections.runtime import Event, Projector, physical_names, read_state

TSV_LIMIT = 100_000  # characters of one message that PostgreSQL indexes (tsvector is capped)


def message_text(message: dict[str, Any]) -> str:
    """The searchable text of a message: its content, or the text parts of a multimodal one."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict)
                         and isinstance(p.get("text"), str))
    return ""


def _internal(meta: Any) -> int:
    return int(isinstance(meta, dict) and meta.get("internal") is True)


SQLITE_DDL = [
    "CREATE TABLE {chat_text} (id INTEGER PRIMARY KEY, chat_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " message_id TEXT NOT NULL, user_id TEXT NOT NULL, body TEXT NOT NULL, body_lc TEXT NOT NULL,"
    " UNIQUE (chat_id, kind, message_id))",
    "CREATE VIRTUAL TABLE {chat_fts} USING fts5(body, content='{chat_text}', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER {chat_text}_ai AFTER INSERT ON {chat_text} BEGIN"
    " INSERT INTO {chat_fts} (rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER {chat_text}_ad AFTER DELETE ON {chat_text} BEGIN"
    " INSERT INTO {chat_fts} ({chat_fts}, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER {chat_text}_au AFTER UPDATE ON {chat_text} BEGIN"
    " INSERT INTO {chat_fts} ({chat_fts}, rowid, body) VALUES ('delete', old.id, old.body);"
    " INSERT INTO {chat_fts} (rowid, body) VALUES (new.id, new.body); END",
]

POSTGRES_DDL = [
    "CREATE TABLE {chat_text} (id BIGSERIAL PRIMARY KEY, chat_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " message_id TEXT NOT NULL, user_id TEXT NOT NULL, body TEXT NOT NULL, body_lc TEXT NOT NULL,"
    f" tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', left(body, {TSV_LIMIT}))) STORED,"
    " UNIQUE (chat_id, kind, message_id))",
    "CREATE INDEX {chat_text}_tsv ON {chat_text} USING GIN (tsv)",
    "CREATE TABLE {chat_fts} (id BIGINT PRIMARY KEY)",
]


class ChatsProjector(Projector):
    name = "chats"
    version = 2
    tables = ("chat_list", "chat_tags", "chat_text", "chat_fts", "chat_gone_users")
    follows = (Chat.Event,)  # apply_page folds every chat event

    def ddl(self) -> list[str]:
        common = [
            "CREATE TABLE {chat_list} (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
            " title TEXT NOT NULL, title_lc TEXT NOT NULL, created_at BIGINT NOT NULL,"
            " updated_at BIGINT NOT NULL, pinned INTEGER NOT NULL, archived INTEGER NOT NULL,"
            " folder_id TEXT, share_id TEXT, internal INTEGER NOT NULL, deleted_at BIGINT)",
            "CREATE INDEX {chat_list}_user ON {chat_list} (user_id, updated_at)",
            # Retention: live chats by age (deleted_at IS NULL) and the trash by deletion time.
            "CREATE INDEX {chat_list}_age ON {chat_list} (deleted_at, updated_at)",
            "CREATE INDEX {chat_list}_folder ON {chat_list} (user_id, folder_id)",
            "CREATE INDEX {chat_list}_share ON {chat_list} (share_id)",
            "CREATE TABLE {chat_tags} (chat_id TEXT NOT NULL, user_id TEXT NOT NULL,"
            " tag TEXT NOT NULL, PRIMARY KEY (chat_id, tag))",
            "CREATE INDEX {chat_tags}_user ON {chat_tags} (user_id, tag)",
            "CREATE TABLE {chat_gone_users} (user_id TEXT PRIMARY KEY)",
        ]
        text = POSTGRES_DDL if self.dialect == "postgres" else SQLITE_DDL
        return common + text + ["CREATE INDEX {chat_text}_user ON {chat_text} (user_id)"]

    # -- the runtime's entry point ----------------------------------------------------------
    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        """Fold runs of single-chat events in memory (ChatPage); the events that drop rows
        of many chats end a run and go to SQL directly."""
        run: list[Any] = []
        for _, event in events:
            if isinstance(event, DROPS):
                self._fold(run, tx)
                run = []
                self.handle(event, tx)
            elif isinstance(event, Chat.Event):
                run.append(event)
        self._fold(run, tx)

    def _fold(self, events: list[Any], tx: Tx) -> None:
        if not events:
            return
        page = ChatPage(self.t, tx)
        page.load((str(e.originator_id) for e in events),
                  (e.owner_id for e in events if isinstance(e, CREATED)),
                  (str(e.originator_id) for e in events if isinstance(e, TAGGING)))
        for event in events:
            self.fold(event, page)
        page.flush()

    # -- single-chat events, folded over a ChatPage -----------------------------------------
    @singledispatchmethod
    def fold(self, event: Any, page: ChatPage) -> None:
        pass

    @fold.register(Chat.Created)  # explicit: the decorator-made class is opaque to typing
    def _created(self, event: Any, page: ChatPage) -> None:
        if event.owner_id in page.gone:
            return  # written in a race with the owner's deletion
        chat_id, ts = str(event.originator_id), epoch(event.timestamp)
        created = event.created_at if event.created_at is not None else ts
        updated = event.updated_at if event.updated_at is not None else created
        page.create({"id": chat_id, "user_id": event.owner_id, "title": event.title,
                     "title_lc": event.title.lower(), "created_at": created,
                     "updated_at": updated, "pinned": int(event.pinned),
                     "archived": int(event.archived), "folder_id": event.folder_id,
                     "share_id": None, "internal": _internal(event.meta), "deleted_at": None})
        page.put_text(chat_id, "t", "", event.title)
        for message_id, message in event.messages.items():
            page.put_text(chat_id, "m", message_id, message_text(message))
        page.set_tags(chat_id, event.tags)

    @fold.register
    def _retitled(self, event: Chat.TitleChanged, page: ChatPage) -> None:
        chat_id = str(event.originator_id)
        page.set(chat_id, title=event.title, title_lc=event.title.lower())
        page.put_text(chat_id, "t", "", event.title)

    @fold.register
    def _message_added(self, event: Chat.MessageAdded, page: ChatPage) -> None:
        chat_id = str(event.originator_id)
        page.set(chat_id, updated_at=epoch(event.timestamp))
        page.put_text(chat_id, "m", event.message["id"], message_text(event.message))

    @fold.register
    def _message_edited(self, event: Chat.MessageEdited, page: ChatPage) -> None:
        chat_id = str(event.originator_id)
        page.set(chat_id, updated_at=epoch(event.timestamp))
        if "content" in event.changes:
            page.put_text(chat_id, "m", event.message_id, message_text(event.changes))

    @fold.register
    def _reply_started(self, event: Chat.ReplyStarted, page: ChatPage) -> None:
        self._message_added(event, page)  # type: ignore[arg-type]  # same fields

    @fold.register
    def _reply_checkpointed(self, event: Chat.ReplyCheckpointed, page: ChatPage) -> None:
        # Only the new part is in the event: search sees the reply's text when it ends.
        page.set(str(event.originator_id), updated_at=epoch(event.timestamp))

    @fold.register
    def _reply_finished(self, event: Chat.ReplyFinished, page: ChatPage) -> None:
        self._message_edited(event, page)  # type: ignore[arg-type]  # same fields

    @fold.register
    def _current_moved(self, event: Chat.CurrentMessageMoved, page: ChatPage) -> None:
        page.set(str(event.originator_id), updated_at=epoch(event.timestamp))

    @fold.register
    def _tags_changed(self, event: Chat.TagsChanged, page: ChatPage) -> None:
        page.set_tags(str(event.originator_id), event.tags)

    @fold.register
    def _tag_added(self, event: Chat.TagAdded, page: ChatPage) -> None:
        page.add_tag(str(event.originator_id), event.tag)

    @fold.register
    def _tag_removed(self, event: Chat.TagRemoved, page: ChatPage) -> None:
        page.remove_tag(str(event.originator_id), event.tag)

    @fold.register
    def _tags_cleared(self, event: Chat.TagsCleared, page: ChatPage) -> None:
        page.set_tags(str(event.originator_id), [])

    @fold.register
    def _pinned(self, event: Chat.Pinned, page: ChatPage) -> None:
        page.set(str(event.originator_id), pinned=1, updated_at=epoch(event.timestamp))

    @fold.register
    def _unpinned(self, event: Chat.Unpinned, page: ChatPage) -> None:
        page.set(str(event.originator_id), pinned=0, updated_at=epoch(event.timestamp))

    @fold.register
    def _archived(self, event: Chat.Archived, page: ChatPage) -> None:
        page.set(str(event.originator_id), archived=1, folder_id=None, updated_at=epoch(event.timestamp))

    @fold.register
    def _unarchived(self, event: Chat.Unarchived, page: ChatPage) -> None:
        page.set(str(event.originator_id), archived=0, folder_id=None, updated_at=epoch(event.timestamp))

    @fold.register
    def _shared(self, event: Chat.Shared, page: ChatPage) -> None:
        page.set(str(event.originator_id), share_id=event.share_id)

    @fold.register
    def _unshared(self, event: Chat.Unshared, page: ChatPage) -> None:
        page.set(str(event.originator_id), share_id=None)

    @fold.register
    def _moved(self, event: Chat.MovedToFolder, page: ChatPage) -> None:
        page.set(str(event.originator_id), folder_id=event.folder_id, pinned=0,
                 updated_at=epoch(event.timestamp))

    @fold.register
    def _meta(self, event: Chat.MetaChanged, page: ChatPage) -> None:
        page.set(str(event.originator_id), internal=_internal(event.meta))

    @fold.register
    def _deleted(self, event: Chat.Deleted, page: ChatPage) -> None:
        page.set(str(event.originator_id), deleted_at=epoch(event.timestamp))

    @fold.register
    def _restored(self, event: Chat.Restored, page: ChatPage) -> None:
        page.set(str(event.originator_id), deleted_at=None, updated_at=epoch(event.timestamp))

    # -- events that drop rows of many chats: straight to SQL --------------------------------
    def _drop(self, tx: Tx, column: str, value: str) -> None:
        for table, col in (("chat_text", column), ("chat_tags", column),
                           ("chat_list", "id" if column == "chat_id" else column)):
            tx.execute(f"DELETE FROM {self.t[table]} WHERE {col} = ?", (value,))

    def _owner_gone(self, tx: Tx, user_id: str) -> None:
        self._drop(tx, "user_id", user_id)
        tx.execute(f"INSERT INTO {self.t['chat_gone_users']} (user_id) VALUES (?)"
                   f" ON CONFLICT (user_id) DO NOTHING", (user_id,))

    @singledispatchmethod
    def handle(self, event: Any, tx: Tx) -> None:
        pass

    @handle.register
    def _purged(self, event: Chat.Purged, tx: Tx) -> None:
        self._drop(tx, "chat_id", str(event.originator_id))

    @handle.register
    def _user_deleted(self, event: User.Deleted, tx: Tx) -> None:
        self._owner_gone(tx, str(event.originator_id))

    @handle.register
    def _user_erased(self, event: Erasure.UserErased, tx: Tx) -> None:
        """Belt and braces: the user's deletion already dropped their chats (docs/erasure.md)."""
        self._owner_gone(tx, event.user_id)


# Looked up by name: the decorator-made event classes are opaque to typing.
DROPS = (*(getattr(c, n) for c, n in ((Chat, "Purged"), (User, "Deleted"))), Erasure.UserErased)
CREATED, *_TAG_EVENTS = (getattr(Chat, name) for name in
                         ("Created", "TagsChanged", "TagAdded", "TagRemoved", "TagsCleared"))
TAGGING = (CREATED, *_TAG_EVENTS)


# ---- queries ------------------------------------------------------------------------------

LIST_COLUMNS = "c.id, c.user_id, c.title, c.created_at, c.updated_at, c.pinned, c.archived," \
               " c.folder_id, c.share_id"
ORDERABLE = {"updated_at": "c.updated_at", "created_at": "c.created_at", "title": "c.title_lc"}
SNIPPET_CHARS = 200
LIVE = "c.deleted_at IS NULL"  # every query but the trash's leaves trashed chats out


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "pinned": bool(row["pinned"]), "archived": bool(row["archived"])}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ChatsQueries:
    GENERATION_TTL = 1.0  # seconds a looked-up generation is trusted (SQLite FTS only)

    def __init__(self, db: Database):
        self.db = db
        self._generation: tuple[float, int] | None = None
        self._lock = threading.Lock()

    # -- lists ------------------------------------------------------------------------------
    def page(self, user_id: str | None, flt: ListFilter, offset: int = 0,
             limit: int | None = None) -> list[dict[str, Any]]:
        """The chats of `user_id` (None: every user's) passing `flt`."""
        where, params = self._filter(user_id, flt)
        column = ORDERABLE.get(flt.order_by, "c.updated_at")
        direction = "ASC" if flt.direction == "asc" else "DESC"
        sql = f"SELECT {LIST_COLUMNS} FROM chat_list c WHERE {where} " \
              f"ORDER BY {column} {direction}, c.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [_row(r) for r in self.db.query(sql, params)]

    @staticmethod
    def _filter(user_id: str | None, flt: ListFilter) -> tuple[str, list[Any]]:
        clauses, params = ["c.internal = 0", LIVE], list[Any]()
        if user_id is not None:
            clauses.append("c.user_id = ?")
            params.append(user_id)
        if not flt.include_pinned:
            clauses.append("c.pinned = 0")
        if not flt.include_folders:
            clauses.append("c.folder_id IS NULL")
        if flt.archived is not None:
            clauses.append("c.archived = ?")
            params.append(int(flt.archived))
        if flt.query:
            clauses.append("c.title_lc LIKE ? ESCAPE '\\'")
            params.append(_like(flt.query.lower()))
        return " AND ".join(clauses), params

    def pinned(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(f"SELECT {LIST_COLUMNS} FROM chat_list c WHERE c.user_id = ? AND"
                             f" c.pinned = 1 AND c.archived = 0 AND c.internal = 0 AND {LIVE}"
                             f" ORDER BY c.updated_at DESC, c.id", (user_id,))
        return [_row(r) for r in rows]

    def in_folders(self, user_id: str, folder_ids: list[str]) -> list[dict[str, Any]]:
        """Unpinned, unarchived chats filed in any of `folder_ids` (as the reference lists them)."""
        if not folder_ids:
            return []
        marks = ", ".join("?" for _ in folder_ids)
        rows = self.db.query(
            f"SELECT {LIST_COLUMNS} FROM chat_list c WHERE c.user_id = ? AND c.folder_id IN"
            f" ({marks}) AND c.pinned = 0 AND c.archived = 0 AND c.internal = 0 AND {LIVE}"
            f" ORDER BY c.updated_at DESC, c.id", (user_id, *folder_ids))
        return [_row(r) for r in rows]

    def filed_in(self, user_id: str, folder_ids: list[str]) -> list[str]:
        """Ids of every chat (pinned, archived, internal too) filed in `folder_ids`."""
        if not folder_ids:
            return []
        marks = ", ".join("?" for _ in folder_ids)
        rows = self.db.query(f"SELECT c.id FROM chat_list c WHERE c.user_id = ? AND"
                             f" c.folder_id IN ({marks}) AND {LIVE} ORDER BY c.id",
                             (user_id, *folder_ids))
        return [r["id"] for r in rows]

    def ids(self, user_id: str, archived: bool | None = None) -> list[str]:
        """Every chat id of a user (internal ones too), for bulk commands."""
        sql, params = f"SELECT c.id FROM chat_list c WHERE c.user_id = ? AND {LIVE}", \
            list[Any]([user_id])
        if archived is not None:
            sql += " AND c.archived = ?"
            params.append(int(archived))
        return [r["id"] for r in self.db.query(sql + " ORDER BY c.id", params)]

    def by_share_id(self, share_id: str) -> dict[str, Any] | None:
        rows = self.db.query(f"SELECT {LIST_COLUMNS} FROM chat_list c WHERE c.share_id = ?"
                             f" AND {LIVE}", (share_id,))
        return _row(rows[0]) if rows else None

    # -- trash and retention ----------------------------------------------------------------
    def trash(self, user_id: str | None, after: int, offset: int,
              limit: int) -> list[dict[str, Any]]:
        """Chats of `user_id` (None: every user's) moved to the trash after `after`, most
        recently deleted first."""
        where, params = "c.deleted_at > ? AND c.internal = 0", list[Any]([after])
        if user_id is not None:
            where += " AND c.user_id = ?"
            params.append(user_id)
        rows = self.db.query(
            f"SELECT {LIST_COLUMNS}, c.deleted_at FROM chat_list c WHERE {where}"
            f" ORDER BY c.deleted_at DESC, c.id LIMIT {int(limit)} OFFSET {int(offset)}", params)
        return [_row(r) for r in rows]

    def last_updated_by(self, cutoff: int) -> list[str]:
        """Ids of live chats (any user's) last updated at or before `cutoff`, oldest first."""
        rows = self.db.query(f"SELECT c.id FROM chat_list c WHERE {LIVE} AND c.updated_at <= ?"
                             f" ORDER BY c.updated_at, c.id", (cutoff,))
        return [r["id"] for r in rows]

    def trashed_by(self, cutoff: int) -> list[str]:
        """Ids of chats (any user's) moved to the trash at or before `cutoff`, oldest first."""
        rows = self.db.query("SELECT c.id FROM chat_list c WHERE c.deleted_at <= ?"
                             " ORDER BY c.deleted_at, c.id", (cutoff,))
        return [r["id"] for r in rows]

    # -- tags -------------------------------------------------------------------------------
    def tags(self, user_id: str) -> list[str]:
        """Tags of the user's unarchived chats (the reference drops tags no such chat has)."""
        rows = self.db.query(
            f"SELECT DISTINCT t.tag FROM chat_tags t JOIN chat_list c ON c.id = t.chat_id"
            f" WHERE t.user_id = ? AND c.archived = 0 AND c.internal = 0 AND {LIVE}"
            f" ORDER BY t.tag",
            (user_id,))
        return [r["tag"] for r in rows]

    def by_tag(self, user_id: str, tag: str, offset: int, limit: int) -> list[dict[str, Any]]:
        rows = self.db.query(
            f"SELECT {LIST_COLUMNS} FROM chat_list c JOIN chat_tags t ON t.chat_id = c.id"
            f" WHERE t.user_id = ? AND t.tag = ? AND c.internal = 0 AND {LIVE}"
            f" ORDER BY c.updated_at DESC, c.id LIMIT {int(limit)} OFFSET {int(offset)}",
            (user_id, key(tag)))
        return [_row(r) for r in rows]

    # -- search -----------------------------------------------------------------------------
    def search(self, user_id: str, query: SearchQuery, offset: int,
               limit: int) -> list[dict[str, Any]]:
        for attempt in range(2):
            names = self._names(refresh=attempt > 0)
            try:
                return self._search(names, user_id, query, offset, limit)
            except Exception as error:
                if attempt or "no such table" not in str(error):
                    raise  # a rebuild may have dropped the generation we used: retry once

        raise AssertionError("unreachable")

    def _search(self, names: dict[str, str], user_id: str, query: SearchQuery, offset: int,
                limit: int) -> list[dict[str, Any]]:
        where, params = self._search_filter(names, user_id, query)
        rank, rank_params = "0", []
        if query.needle:
            rank = (f"CASE WHEN EXISTS (SELECT 1 FROM {names['chat_text']} x WHERE x.chat_id = c.id"
                    f" AND x.body_lc LIKE ? ESCAPE '\\') THEN 0 ELSE 1 END")
            rank_params = [_like(query.needle)]
        sql = (f"SELECT {LIST_COLUMNS}, {rank} AS exact FROM {names['chat_list']} c"
               f" WHERE {where} ORDER BY exact, c.updated_at DESC, c.id"
               f" LIMIT {int(limit)} OFFSET {int(offset)}")
        rows = [_row(r) for r in self.db.query(sql, [*rank_params, *params])]
        self._add_snippets(names, rows, query)
        return rows

    def _search_filter(self, names: dict[str, str], user_id: str,
                       query: SearchQuery) -> tuple[str, list[Any]]:
        clauses, params = ["c.user_id = ?", "c.internal = 0", LIVE], list[Any]([user_id])
        archived = query.archived if query.archived is not None else False
        clauses.append("c.archived = ?")
        params.append(int(archived))
        if query.pinned is not None:
            clauses.append("c.pinned = ?")
            params.append(int(query.pinned))
        if query.shared is not None:
            clauses.append("c.share_id IS NOT NULL" if query.shared else "c.share_id IS NULL")
        self._tag_filter(names, query.tags, clauses, params)
        if query.folder_ids is not None:
            marks = ", ".join("?" for _ in query.folder_ids) or "NULL"
            clauses.append(f"c.folder_id IN ({marks})")
            params.extend(query.folder_ids)
        for match, value in self._text_matches(names, query):
            clauses.append(f"c.id IN ({match})")
            params.extend([value, user_id])
        return " AND ".join(clauses), params

    @staticmethod
    def _tag_filter(names: dict[str, str], tags: list[str], clauses: list[str],
                    params: list[Any]) -> None:
        table = names["chat_tags"]
        if "none" in tags:
            clauses.append(f"NOT EXISTS (SELECT 1 FROM {table} g WHERE g.chat_id = c.id)")
            return
        for tag in tags:
            clauses.append(f"EXISTS (SELECT 1 FROM {table} g WHERE g.chat_id = c.id AND g.tag = ?)")
            params.append(key(tag))

    def _text_matches(self, names: dict[str, str], query: SearchQuery) -> list[tuple[str, str]]:
        """One (subquery selecting matching chat ids, its match parameter) per word/phrase."""
        text = names["chat_text"]
        if self.db.dialect == "postgres":
            sub = f"SELECT t.chat_id FROM {text} t WHERE t.tsv @@ to_tsquery('simple', ?)" \
                  f" AND t.user_id = ?"
            terms = [f"{w}:*" for w in query.words] + [" <-> ".join(p) for p in query.phrases]
        else:
            fts = names["chat_fts"]
            sub = f"SELECT t.chat_id FROM {text} t WHERE t.id IN (SELECT rowid FROM {fts}" \
                  f" WHERE {fts} MATCH ?) AND t.user_id = ?"
            terms = [f'"{w}"*' for w in query.words] + [f'"{" ".join(p)}"' for p in query.phrases]
        if not terms and query.needle:  # no word characters at all: plain substring match
            sub = f"SELECT t.chat_id FROM {text} t WHERE t.body_lc LIKE ? ESCAPE '\\'" \
                  f" AND t.user_id = ?"
            terms = [_like(query.needle)]
        return [(sub, term) for term in terms]

    def _add_snippets(self, names: dict[str, str], rows: list[dict[str, Any]],
                      query: SearchQuery) -> None:
        needles = [n for n in [query.needle, *query.words, *(" ".join(p) for p in query.phrases)]
                   if n]
        for row in rows:
            row["snippet"] = None
        if not rows or not needles:
            return
        marks = ", ".join("?" for _ in rows)
        likes = " OR ".join("body_lc LIKE ? ESCAPE '\\'" for _ in needles)
        found = self.db.query(
            f"SELECT chat_id, body, body_lc FROM {names['chat_text']} WHERE kind = 'm' AND"
            f" chat_id IN ({marks}) AND ({likes}) ORDER BY id",
            [*(r["id"] for r in rows), *(_like(n) for n in needles)])
        first: dict[str, dict[str, Any]] = {}
        for hit in found:
            first.setdefault(hit["chat_id"], hit)
        for row in rows:
            if row["id"] in first:
                hit = first[row["id"]]
                row["snippet"] = snippet(hit["body"], hit["body_lc"], needles)

    def _names(self, refresh: bool = False) -> dict[str, str]:
        """Table names for search: SQLite's FTS5 table cannot be matched through a view, so
        every table of one live generation is named physically; PostgreSQL uses the views."""
        if self.db.dialect == "postgres":
            return {t: t for t in ChatsProjector.tables}
        with self._lock:
            cached = self._generation
            if refresh or cached is None or cached[0] < time.monotonic():
                live = read_state(self.db, ChatsProjector.name)
                generation = int(live["generation"]) if live else 1
                cached = (time.monotonic() + self.GENERATION_TTL, generation)
                self._generation = cached
        return physical_names(ChatsProjector, cached[1])


def snippet(body: str, body_lc: str, needles: list[str]) -> str:
    """About SNIPPET_CHARS characters of `body` around the first occurrence of a needle."""
    text = body if len(body) == len(body_lc) else body_lc  # lower() can change lengths
    hits = [p for p in (body_lc.find(n) for n in needles) if p >= 0]
    position = min(hits) if hits else 0
    start = max(0, position - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    start = max(0, end - SNIPPET_CHARS)
    piece = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")
