"""Chat use cases: commands on the Chat aggregate; lists, tags and search from the read model
(whose ports and search parsing live in application/chat_queries.py).

Single chats are always read from the aggregate (consistent); lists and search come from the
`chats` read model. A user only ever reaches their own chats: someone else's chat is answered
exactly like a chat that does not exist (404), except through its share id.

Deleting a chat moves it to the trash: its owner (or an admin) can restore it, with everything
it had, until the trash window has passed since the deletion; a purge (asked for, or by the
retention policy once the window has passed) takes it out of every read model for good.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from application.auth import Principal
from application.chat_queries import (
    ChatsReadModel,
    FoldersReadModel,
    ListFilter,
    parse_search,
)
from application.commands import CommandRunner, Outcome
from application.context import Actor, acting_as
from application.domain_errors import domain_errors
from application.errors import BadRequest, NotFound, Unauthorized
from application.ids import parse_uuid
from application.messages import Detail
from application.paging import page_or_all, page_window
from application.permissions import allowed
from application.ports import EventStorePort
from domain.chat import Chat, ChatError
from domain.folder import Folder, FolderError
from domain.tags import normalize_tag
from domain.user import User

T = TypeVar("T")
PAGE_SIZE = 60
DAY = 86_400
IMPORT_NAMESPACE = uuid.UUID("5d0c8a3e-7f5b-4e0a-9d7e-2b9f1c6a4e11")
IMPORT_ATTEMPTS = 8
FOLDER_PAGE_SIZE = 10  # a sidebar folder's page, as 0.12.4


@dataclass
class ImportedChat:
    """One item of POST /chats/import (ChatImportForm)."""

    chat: dict[str, Any]
    meta: dict[str, Any] | None = None
    pinned: bool = False
    archived: bool = False
    folder_id: str | None = None
    created_at: int | None = None
    updated_at: int | None = None


def import_ids(user_id: str, chat: dict[str, Any]) -> Iterator[str]:
    """Candidate ids for an imported chat, all derived from the import data.

    The chat's own id comes first; derived ids follow for when it is taken by someone else (or
    deleted). A chat without an id gets one from its content. Either way importing the same
    data again lands on the same ids, so it adds nothing.
    """
    raw = chat.get("id")
    parsed = parse_uuid(raw) if isinstance(raw, str) else None
    if parsed is not None:
        base = str(parsed)
    else:
        seed = raw if isinstance(raw, str) and raw else hashlib.sha256(
            json.dumps(chat, sort_keys=True, default=str).encode()).hexdigest()
        base = str(uuid.uuid5(IMPORT_NAMESPACE, f"{user_id}:{seed}"))
    yield base
    for attempt in range(1, IMPORT_ATTEMPTS):
        yield str(uuid.uuid5(IMPORT_NAMESPACE, f"{user_id}:{base}:{attempt}"))


def _with_tags(chat_json: dict[str, Any], tags: list[str] | None) -> dict[str, Any]:
    """The chat JSON with the form's own `tags` added (the spec's body carries them beside it)."""
    if not tags:
        return chat_json
    existing = chat_json.get("tags") or []
    if not isinstance(existing, list):
        raise BadRequest(Detail.DEFAULT("tags must be a list"))
    return {**chat_json, "tags": [*existing, *tags]}


class ChatService:
    def __init__(self, store: EventStorePort, runner: CommandRunner, chats: ChatsReadModel,
                 folders: FoldersReadModel, permissions: Callable[[str], dict[str, Any]],
                 trash_days: float = 30.0, clock: Callable[[], float] = time.time):
        self.store = store
        self.runner = runner
        self.chats = chats
        self.folders = folders
        self.permissions = permissions
        self.trash_seconds = trash_days * DAY
        self.clock = clock

    # -- loading ----------------------------------------------------------------------------
    def _load(self, chat_id: str, version: int | None = None) -> Chat | None:
        """The chat (deleted ones too), or None when the id names no chat."""
        parsed = parse_uuid(chat_id)
        aggregate = self.store.get(parsed, version) if parsed else None
        return aggregate if isinstance(aggregate, Chat) else None

    def _live(self, chat_id: str, version: int | None = None) -> Chat | None:
        chat = self._load(chat_id, version)
        return chat if chat is not None and not chat.deleted else None

    def own(self, principal: Principal, chat_id: str) -> Chat:
        chat = self._live(chat_id)
        if chat is None or chat.owner_id != principal.id:
            raise NotFound(Detail.NOT_FOUND)
        return chat

    def readable(self, principal: Principal, chat_id: str) -> Chat:
        """Own chats; admins may also read anyone's (the reference's admin chat access), except
        those of deleted users: deleting a user deletes their chats."""
        chat = self._live(chat_id)
        if chat is not None and (chat.owner_id == principal.id or (
                principal.is_admin and self._owner_live(chat))):
            return chat
        raise NotFound(Detail.NOT_FOUND)

    def _owner_live(self, chat: Chat) -> bool:
        owner_id = parse_uuid(chat.owner_id)
        owner = self.store.get(owner_id) if owner_id else None
        return isinstance(owner, User) and not owner.deleted

    def owned_folder(self, principal: Principal, folder_id: str) -> Folder:
        parsed = parse_uuid(folder_id)
        folder = self.store.get(parsed) if parsed else None
        if not isinstance(folder, Folder) or folder.deleted or folder.owner_id != principal.id:
            raise NotFound(Detail.NOT_FOUND)
        return folder

    def _permit(self, principal: Principal, permission: str) -> None:
        if not principal.is_admin and not allowed(self.permissions(principal.id), permission):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)

    # -- commands on one chat ---------------------------------------------------------------
    def _change(self, name: str, principal: Principal, chat_id: str,
                change: Callable[[Chat], T]) -> Outcome[tuple[Chat, T]]:
        return self.runner.run(name, self._decision(principal, chat_id, change))

    async def _change_async(self, name: str, principal: Principal, chat_id: str,
                            change: Callable[[Chat], T]) -> Outcome[tuple[Chat, T]]:
        return await self.runner.run_async(name, self._decision(principal, chat_id, change))

    def _decision(self, principal: Principal, chat_id: str, change: Callable[[Chat], T]
                  ) -> Callable[[], tuple[tuple[Chat, T], list[Any]]]:
        def decide() -> tuple[tuple[Chat, T], list[Any]]:
            chat = self.own(principal, chat_id)
            with domain_errors(ChatError, FolderError):
                result = change(chat)
            return (chat, result), [chat]

        return decide

    def create(self, principal: Principal, chat_json: dict[str, Any], folder_id: str | None = None,
               meta: dict[str, Any] | None = None, tags: list[str] | None = None) -> Outcome[Chat]:
        def decide() -> tuple[Chat, list[Any]]:
            if folder_id is not None:
                self.owned_folder(principal, folder_id)
            with domain_errors(ChatError, FolderError):
                chat = Chat.create(principal.id, _with_tags(chat_json, tags), folder_id=folder_id,
                                   meta=meta)
            return chat, [chat]

        return self.runner.run("chats.create", decide)

    # The client saves the whole chat on every message, and streams message events: these
    # commands run on the event loop (CommandRunner.run_async).
    async def update(self, principal: Principal, chat_id: str,
                     chat_json: dict[str, Any]) -> Outcome[tuple[Chat, None]]:
        return await self._change_async("chats.update", principal, chat_id,
                                        lambda chat: chat.apply_update(chat_json))

    async def update_params(self, principal: Principal, chat_id: str,
                            params: dict[str, Any]) -> Outcome[dict[str, Any]]:
        """Merge chat-level params (system prompt, advanced params) into the chat's. As 0.12.4,
        a chat that is not the caller's is 401."""
        def decide() -> tuple[dict[str, Any], list[Any]]:
            chat = self._live(chat_id)
            if chat is None or chat.owner_id != principal.id:
                raise Unauthorized(Detail.ACCESS_PROHIBITED)
            with domain_errors(ChatError, FolderError):
                chat.apply_update({"params": {**(chat.fields.get("params") or {}), **params}})
            return dict(chat.fields.get("params") or {}), [chat]

        return await self.runner.run_async("chats.update_params", decide)

    async def upsert_message(self, principal: Principal, chat_id: str, message_id: str,
                             content: str) -> Outcome[tuple[Chat, None]]:
        def change(chat: Chat) -> None:
            message: dict[str, Any] = {"content": content}
            if message_id not in chat.messages:  # a new one, shaped as the reference makes it
                message.update(role="assistant", parentId=None, timestamp=int(time.time()))
            chat.upsert_message(message_id, message)

        return await self._change_async("chats.upsert_message", principal, chat_id, change)

    async def message_event(self, principal: Principal, chat_id: str, message_id: str,
                            event_type: str, data: dict[str, Any]) -> Outcome[tuple[Chat, None]]:
        return await self._change_async(
            "chats.message_event", principal, chat_id,
            lambda chat: chat.record_message_event(message_id, event_type, data))

    # A web-app completion: the server records the reply it streams (application/replies.py).
    async def start_reply(self, principal: Principal, chat_id: str,
                          user_message: dict[str, Any] | None, reply: dict[str, Any],
                          task_id: str) -> Outcome[tuple[Chat, None]]:
        def change(chat: Chat) -> None:
            if user_message is not None and isinstance(user_message.get("id"), str):
                chat.upsert_message(user_message["id"], user_message)
            chat.start_reply(reply, task_id)

        return await self._change_async("chats.start_reply", principal, chat_id, change)

    async def checkpoint_reply(self, principal: Principal, chat_id: str, message_id: str,
                               content: str) -> Outcome[tuple[Chat, bool]]:
        return await self._change_async(
            "chats.checkpoint_reply", principal, chat_id,
            lambda chat: chat.checkpoint_reply(message_id, content))

    async def finish_reply(self, principal: Principal, chat_id: str, message_id: str,
                           changes: dict[str, Any]) -> Outcome[tuple[Chat, None]]:
        return await self._change_async(
            "chats.finish_reply", principal, chat_id,
            lambda chat: chat.finish_reply(message_id, changes))

    def interrupt_reply(self, chat_id: str, message_id: str, error: str) -> bool:
        """A reply whose streaming process died, finished with what was checkpointed and an
        error; recorded by the system, not by the chat's owner."""
        def decide() -> tuple[bool, list[Any]]:
            chat = self._live(chat_id)
            message = chat.messages.get(message_id) if chat is not None else None
            if chat is None or message is None or message.get("done") is True:
                return False, []
            chat.finish_reply(message_id, {"error": {"content": error}})
            return True, [chat]

        with acting_as(Actor.system("replies")):
            return self.runner.run("chats.interrupt_reply", decide).value

    def delete(self, principal: Principal, chat_id: str) -> Outcome[tuple[Chat, None]]:
        self._permit(principal, "chat.delete")
        return self._change("chats.delete", principal, chat_id, lambda chat: chat.delete())

    def toggle_pin(self, principal: Principal, chat_id: str) -> Outcome[tuple[Chat, None]]:
        return self._change("chats.pin", principal, chat_id, lambda chat: chat.toggle_pinned())

    def toggle_archive(self, principal: Principal, chat_id: str) -> Outcome[tuple[Chat, None]]:
        return self._change("chats.archive", principal, chat_id,
                            lambda chat: chat.toggle_archived())

    def share(self, principal: Principal, chat_id: str) -> Outcome[tuple[Chat, None]]:
        self._permit(principal, "chat.share")
        # Sharing again keeps the link and republishes the chat as it is now.
        return self._change("chats.share", principal, chat_id,
                            lambda chat: chat.share(chat.share_id or str(uuid.uuid4())))

    def unshare(self, principal: Principal, chat_id: str) -> Outcome[tuple[Chat, bool]]:
        def change(chat: Chat) -> bool:
            was_shared = chat.share_id is not None
            chat.unshare()
            return was_shared

        return self._change("chats.unshare", principal, chat_id, change)

    def add_tag(self, principal: Principal, chat_id: str, name: str) -> Outcome[tuple[Chat, None]]:
        return self._change("chats.add_tag", principal, chat_id, lambda chat: chat.add_tag(name))

    def remove_tag(self, principal: Principal, chat_id: str,
                   name: str) -> Outcome[tuple[Chat, None]]:
        return self._change("chats.remove_tag", principal, chat_id,
                            lambda chat: chat.remove_tag(name))

    def move_to_folder(self, principal: Principal, chat_id: str,
                       folder_id: str | None) -> Outcome[tuple[Chat, None]]:
        def change(chat: Chat) -> None:
            if folder_id is not None:
                self.owned_folder(principal, folder_id)
                if chat.archived:  # filing an archived chat brings it back, as in the reference
                    chat.unarchive()
            chat.move_to_folder(folder_id)

        return self._change("chats.move", principal, chat_id, change)

    def clone(self, principal: Principal, chat_id: str, title: str | None) -> Outcome[Chat]:
        def decide() -> tuple[Chat, list[Any]]:
            with domain_errors(ChatError, FolderError):
                copy = Chat.clone(self.own(principal, chat_id), principal.id, title=title)
            return copy, [copy]

        return self.runner.run("chats.clone", decide)

    def clone_shared(self, principal: Principal, share_id: str) -> Outcome[Chat]:
        def decide() -> tuple[Chat, list[Any]]:
            source, _ = self.shared(principal, share_id)
            with domain_errors(ChatError, FolderError):
                copy = Chat.clone(source, principal.id)
            return copy, [copy]

        return self.runner.run("chats.clone_shared", decide)

    # -- the trash --------------------------------------------------------------------------
    def _trashed(self, principal: Principal, chat_id: str) -> Chat:
        """A chat `principal` may restore or purge: their own, or (admins) a live user's.
        Purged chats, like anyone else's, are answered as unknown."""
        chat = self._load(chat_id)
        if chat is None or chat.purged or not (chat.owner_id == principal.id or (
                principal.is_admin and self._owner_live(chat))):
            raise NotFound(Detail.NOT_FOUND)
        if not chat.deleted:
            raise BadRequest(Detail.CHAT_NOT_IN_TRASH)
        return chat

    def restore(self, principal: Principal, chat_id: str) -> Outcome[Chat]:
        def decide() -> tuple[Chat, list[Any]]:
            chat = self._trashed(principal, chat_id)
            purge_at = chat.purge_at(self.trash_seconds)
            if purge_at is None or purge_at <= self.clock():
                raise NotFound(Detail.NOT_FOUND)  # past the window: as good as purged
            chat.restore()
            if chat.folder_id is not None and not self._folder_live(chat):
                chat.move_to_folder(None)  # its folder went meanwhile: back to the chat list
            return chat, [chat]

        return self.runner.run("chats.restore", decide)

    def _folder_live(self, chat: Chat) -> bool:
        parsed = parse_uuid(chat.folder_id or "")
        folder = self.store.get(parsed) if parsed else None
        return isinstance(folder, Folder) and not folder.deleted and (
            folder.owner_id == chat.owner_id)

    def purge(self, principal: Principal, chat_id: str) -> Outcome[bool]:
        self._permit(principal, "chat.delete")

        def decide() -> tuple[bool, list[Any]]:
            chat = self._trashed(principal, chat_id)
            chat.purge()
            return True, [chat]

        return self.runner.run("chats.purge", decide)

    def trash(self, principal: Principal, page: int | None,
              everyone: bool = False) -> list[dict[str, Any]]:
        """Chats still restorable (own, or every user's for an admin), with their purge time."""
        offset, limit = page_window(page, PAGE_SIZE)
        after = math.floor(self.clock() - self.trash_seconds)
        owner = None if everyone else principal.id
        rows = self.chats.trash(owner, after, offset, limit or PAGE_SIZE)
        for row in rows:
            row["purge_at"] = math.ceil(row["deleted_at"] + self.trash_seconds)
        return rows

    # -- commands on many chats -------------------------------------------------------------
    def _bulk(self, name: str, principal: Principal, ids: Iterable[str],
              change: Callable[[Chat], None]) -> Outcome[bool]:
        def decide() -> tuple[bool, list[Any]]:
            chats = [c for c in map(self._live, ids) if c is not None and
                     c.owner_id == principal.id]
            for chat in chats:
                change(chat)
            return True, chats

        return self.runner.run(name, decide)

    def delete_all(self, principal: Principal) -> Outcome[bool]:
        self._permit(principal, "chat.delete")
        return self._bulk("chats.delete_all", principal, self.chats.ids(principal.id),
                          lambda chat: chat.delete())

    def archive_all(self, principal: Principal) -> Outcome[bool]:
        return self._bulk("chats.archive_all", principal,
                          self.chats.ids(principal.id, archived=False), lambda c: c.archive())

    def unarchive_all(self, principal: Principal) -> Outcome[bool]:
        return self._bulk("chats.unarchive_all", principal,
                          self.chats.ids(principal.id, archived=True), lambda c: c.unarchive())

    def import_chats(self, principal: Principal, items: list[ImportedChat]) -> Outcome[list[Chat]]:
        def decide() -> tuple[list[Chat], list[Any]]:
            claimed: dict[str, Chat] = {}
            new: list[Chat] = []
            for item in items:
                chat, created = self._import_one(principal, item, claimed)
                if created:
                    new.append(chat)
            return list({c.id: c for c in claimed.values()}.values()), new

        return self.runner.run("chats.import", decide)

    def _import_one(self, principal: Principal, item: ImportedChat,
                    claimed: dict[str, Chat]) -> tuple[Chat, bool]:
        for chat_id in import_ids(principal.id, item.chat):
            if chat_id in claimed:
                return claimed[chat_id], False
            existing = self._load(chat_id)
            if existing is not None and (existing.owner_id != principal.id or existing.deleted):
                continue  # taken by another user, or deleted: try the next derived id
            chat = existing or self._new_import(principal, item, chat_id)
            claimed[chat_id] = chat
            return chat, existing is None
        chat = self._new_import(principal, item, None)
        claimed[str(chat.id)] = chat
        return chat, True

    def _new_import(self, principal: Principal, item: ImportedChat, chat_id: str | None) -> Chat:
        folder_id = item.folder_id
        if folder_id is not None:
            try:
                self.owned_folder(principal, folder_id)
            except NotFound:
                folder_id = None  # the reference clears dangling folder ids on import
        with domain_errors(ChatError, FolderError):
            return Chat.create(principal.id, item.chat, chat_id=chat_id, folder_id=folder_id,
                               meta=item.meta, pinned=item.pinned, archived=item.archived,
                               created_at=item.created_at, updated_at=item.updated_at)

    # -- queries: single chats --------------------------------------------------------------
    def shared(self, principal: Principal, share_id: str) -> tuple[Chat, str | None]:
        """The chat as it was shared (any signed-in user), and its share id.

        Admins may also pass a chat id, as in the reference (then the share id is None).
        """
        row = self.chats.by_share_id(share_id)
        chat = self._live(row["id"]) if row else None
        if chat is not None and chat.share_id == share_id:
            snapshot = self._live(str(chat.id), chat.shared_version)
            if snapshot is not None:
                return snapshot, share_id
        if principal.is_admin:
            return self.readable(principal, share_id), None
        raise NotFound(Detail.NOT_FOUND)

    def bodies(self, rows: Iterable[dict[str, Any]]) -> Iterator[Chat]:
        """Aggregates for read-model rows, lazily (for streaming); skips ones gone meanwhile."""
        for row in rows:
            chat = self._live(row["id"])
            if chat is not None:
                yield chat

    # -- queries: read model ----------------------------------------------------------------
    def list_chats(self, principal: Principal, page: int | None, include_pinned: bool,
                   include_folders: bool, sort_by: str | None,
                   sort_dir: str | None) -> list[dict[str, Any]]:
        offset, limit = page_or_all(page, PAGE_SIZE)
        flt = ListFilter(include_pinned=include_pinned, include_folders=include_folders,
                         order_by="title" if sort_by == "title" else "updated_at",
                         direction="asc" if sort_dir == "asc" else "desc")
        return self.chats.page(principal.id, flt, offset, limit)

    def list_filtered(self, user_id: str, archived: bool | None, page: int | None,
                      query: str | None, order_by: str | None,
                      direction: str | None) -> list[dict[str, Any]]:
        """The archived list and an admin's view of a user's chats: title filter and order."""
        offset, limit = page_window(page, PAGE_SIZE)
        flt = ListFilter(archived=archived, query=query, order_by=order_by or "updated_at",
                         direction="asc" if (direction or "").lower() == "asc" else "desc")
        return self.chats.page(user_id, flt, offset, limit)

    def pinned(self, principal: Principal) -> list[dict[str, Any]]:
        return self.chats.pinned(principal.id)

    def folder_page(self, principal: Principal, folder_id: str, page: int, sort_by: str,
                    sort_dir: str) -> list[dict[str, Any]]:
        """A page of ten of the caller's unpinned, unarchived chats filed directly in a folder
        (the sidebar's folder); no unread tracking here, so "unread first" is newest first."""
        rows = self.chats.in_folders(principal.id, [folder_id])
        if sort_by == "title":
            rows.sort(key=lambda r: (r["title"].lower(), r["id"]))
            if sort_dir != "asc":
                rows.reverse()
        elif sort_dir == "asc":
            rows.reverse()
        offset = (max(1, page) - 1) * FOLDER_PAGE_SIZE
        return rows[offset:offset + FOLDER_PAGE_SIZE]

    def shared_list(self, principal: Principal, page: int, query: str | None,
                    order_by: str | None, direction: str | None) -> list[dict[str, Any]]:
        """A page of the caller's chats that have a share link (Settings, Shared Chats)."""
        flt = ListFilter(archived=None, query=query,
                         order_by=order_by if order_by in ("title", "created_at") else
                         "updated_at", direction="asc" if direction == "asc" else "desc")
        shared = [r for r in self.chats.page(principal.id, flt) if r.get("share_id")]
        offset, limit = page_window(page, PAGE_SIZE)
        return shared[offset:offset + limit]

    def archived_count(self, principal: Principal) -> int:
        """How many chats the caller archived (internal ones aside, as 0.12.4)."""
        return len(self.chats.page(principal.id, ListFilter(archived=True)))

    def everything(self, user_id: str | None, archived: bool | None = None) -> list[dict[str, Any]]:
        """Rows of every chat of a user (None: of every user), newest first."""
        return self.chats.page(user_id, ListFilter(archived=archived))

    def in_folder(self, principal: Principal, folder_id: str) -> list[dict[str, Any]]:
        return self.chats.in_folders(principal.id, self.folders.subtree(principal.id, folder_id))

    def tags(self, principal: Principal) -> list[str]:
        return self.chats.tags(principal.id)

    def by_tag(self, principal: Principal, name: str, skip: int, limit: int) -> list[dict[str, Any]]:
        return self.chats.by_tag(principal.id, normalize_tag(name), skip, limit)

    def search(self, principal: Principal, text: str, page: int | None) -> list[dict[str, Any]]:
        query = parse_search(text, lambda names: self.folders.named(principal.id, names))
        offset, _ = page_window(page, PAGE_SIZE)
        return self.chats.search(principal.id, query, offset, PAGE_SIZE)
