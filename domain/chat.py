"""Chat aggregate: one Open WebUI chat, its message tree, tags and placement.

The client (Open WebUI's frontend) posts the whole chat JSON on every save. The
aggregate diffs that JSON against its state and records only what changed, so a
chat's event stream grows with its messages, not with the number of saves.

Every attribute is plain JSON data (dict, list, str, int, float, bool, None) so that
snapshots transcode without custom types. How the chat JSON is read is domain/chat_document.py,
the message tree domain/chat_history.py, tag ids domain/tags.py.
"""

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, epoch
from domain.chat_document import (
    BRANCH_POINT_KEY,
    ORIGINAL_CHAT_KEY,
    parse_fields,
    parse_history,
    parse_origin,
    parse_title,
)
from domain.chat_history import (
    Messages,
    apply_message_event,
    diff_messages,
    linear_branch,
    message_changes,
    normalise_message,
    with_children,
)
from domain.document import (
    DocumentError,
    json_data,
    json_key,
    json_list,
    json_object,
    optional_str,
    required_str,
)
from domain.tags import normalize_tag, normalize_tags

P = ParamSpec("P")
R = TypeVar("R")


class ChatError(ValueError):
    """A chat command was given invalid data or broke an invariant."""


class ChatDeletedError(ChatError, DeletedError):
    """A command was sent to a deleted chat."""


class ChatNotDeletedError(ChatError):
    """Restore or purge was asked of a chat that is not in the trash."""


def _chat_errors(command: Callable[P, R]) -> Callable[P, R]:
    """The command's DocumentError (bad client JSON) as a ChatError with the same message."""

    @functools.wraps(command)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DocumentError as e:
            raise ChatError(str(e)) from e

    return checked


def _parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError, AttributeError) as e:
        raise ChatError(f"not a UUID: {value!r}") from e


class Chat(SoftDeleted, Aggregate):
    """An Open WebUI chat owned by one user.

    Attributes: owner_id (alias user_id), title, fields, messages (id -> message,
    without childrenIds), current_id, tags, pinned, archived, share_id,
    shared_version, folder_id, meta (without tags), origin, deleted, deleted_at (epoch
    seconds of the Deleted event: the trash window runs from it), purged, created_at,
    updated_at (epoch seconds).
    """

    # Class defaults: snapshots taken before the trash existed lack these attributes.
    deleted_at: int | None = None
    purged: bool = False
    deleted_error = ChatDeletedError
    deleted_message = "chat {0.id} is deleted"

    @staticmethod
    def create_id(chat_id: str | None = None) -> uuid.UUID:
        # An explicit id lets the application make imports idempotent.
        return _parse_uuid(chat_id) if chat_id else uuid.uuid4()

    @event("Created")
    def __init__(
        self,
        owner_id: str,
        chat_id: str | None,
        title: str,
        fields: dict[str, Any],
        messages: dict[str, Any],
        current_id: str | None,
        tags: list[str],
        folder_id: str | None,
        meta: dict[str, Any],
        pinned: bool,
        archived: bool,
        origin: dict[str, Any] | None,
        created_at: int | None,
        updated_at: int | None,
        timestamp: datetime | None = None,
    ) -> None:
        self.owner_id = owner_id
        self.title = title
        self.fields = deepcopy(fields)
        self.messages = deepcopy(messages)
        self.current_id = current_id
        self.tags = list(tags)
        self.pinned = pinned
        self.archived = archived
        self.share_id: str | None = None
        self.shared_version: int | None = None
        self.folder_id = folder_id
        self.meta = deepcopy(meta)
        self.origin = deepcopy(origin)
        self.deleted = False
        self.deleted_at = None
        self.purged = False
        self.created_at = created_at if created_at is not None else epoch(timestamp)
        self.updated_at = updated_at if updated_at is not None else self.created_at

    # ---- factories -------------------------------------------------------------

    @classmethod
    @_chat_errors
    def create(
        cls,
        user_id: str,
        chat_json: Mapping[str, Any] | None = None,
        *,
        folder_id: str | None = None,
        meta: Mapping[str, Any] | None = None,
        pinned: bool = False,
        archived: bool = False,
        chat_id: str | None = None,
        created_at: int | None = None,
        updated_at: int | None = None,
    ) -> "Chat":
        """A new chat from the client's chat JSON (POST /chats/new, import, clone)."""
        doc = json_object(chat_json, "chat")
        meta_doc = json_object(meta, "meta")
        raw_messages, current_id = parse_history(doc) or ({}, None)
        messages = {mid: normalise_message(mid, m) for mid, m in raw_messages.items()}
        tags = [*json_list(meta_doc.get("tags"), "meta.tags"), *json_list(doc.get("tags"), "tags")]
        for value, what in ((created_at, "created_at"), (updated_at, "updated_at")):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ChatError(f"{what} must be an integer")
        return cls(
            owner_id=required_str(user_id, "user_id"),
            chat_id=optional_str(chat_id, "chat_id"),
            title=parse_title(doc.get("title")),
            fields=parse_fields(doc),
            messages=messages,
            current_id=current_id if current_id in messages else None,
            tags=normalize_tags(tags),
            folder_id=optional_str(folder_id, "folder_id"),
            meta={k: v for k, v in meta_doc.items() if k != "tags"},
            pinned=bool(pinned),
            archived=bool(archived),
            origin=parse_origin(doc),
            created_at=created_at,
            updated_at=updated_at,
        )

    @classmethod
    def clone(
        cls,
        source: "Chat",
        user_id: str,
        *,
        title: str | None = None,
        chat_id: str | None = None,
    ) -> "Chat":
        """A copy of `source` for `user_id`, remembering where it branched off.

        As Open WebUI's clone: title "Clone of {title}" unless given, and the chat
        JSON gains `originalChatId` and `branchPointMessageId` (source currentId).
        Folder, pin, meta and tags are personal: they are kept only when the
        owner clones their own chat (a shared chat cloned by someone else gets none).
        """
        source._live()
        own = user_id == source.owner_id
        doc = source.to_chat_json()
        doc.update(
            {
                "title": title or f"Clone of {source.title}",
                ORIGINAL_CHAT_KEY: str(source.id),
                BRANCH_POINT_KEY: source.current_id,
                "tags": doc["tags"] if own else [],
            }
        )
        return cls.create(
            user_id,
            doc,
            chat_id=chat_id,
            folder_id=source.folder_id if own else None,
            meta=source.meta if own else None,
            pinned=source.pinned if own else False,
        )

    # ---- queries -----------------------------------------------------------------

    @property
    def user_id(self) -> str:
        return self.owner_id

    def response_meta(self) -> dict[str, Any]:
        """`meta` as Open WebUI returns it (tags live in meta.tags there)."""
        return {**deepcopy(self.meta), "tags": list(self.tags)}

    def to_chat_json(self, copy: bool = True) -> dict[str, Any]:
        """The full client chat JSON; `messages` and `childrenIds` are derived.

        copy=False shares sub-objects with this aggregate: only for a throwaway aggregate (one
        loaded at a past version) whose JSON is serialised at once.
        """
        history = with_children(self.messages)
        doc = {
            **self.fields,
            "id": str(self.id),
            "title": self.title,
            "history": {"messages": history, "currentId": self.current_id},
            "messages": linear_branch(history, self.current_id),
            "tags": list(self.tags),
            **(self.origin or {}),
        }
        # One deepcopy keeps callers from mutating state through shared sub-objects.
        return deepcopy(doc) if copy else doc

    # ---- commands ----------------------------------------------------------------

    @_chat_errors
    def apply_update(self, chat_json: Mapping[str, Any]) -> None:
        """POST /chats/{id}: merge the client's whole chat JSON, recording only changes.

        Top-level keys are shallow-merged; history messages are merged (stored ∪
        incoming, never dropped); currentId moves only to a message that exists.
        """
        self._live()
        if not isinstance(chat_json, Mapping):
            raise ChatError("chat must be an object")
        # The history is the bulk of the chat and mostly unchanged: it is copied and cleaned
        # message by message, only where it differs (see _changed_history).
        doc = json_object({k: v for k, v in chat_json.items() if k not in ("history", "messages")},
                          "chat")
        # Validate everything before recording anything: no half-applied updates.
        title = parse_title(doc.get("title")) if "title" in doc else None
        history = self._changed_history(chat_json)
        tags = normalize_tags(json_list(doc["tags"], "tags")) if "tags" in doc else None
        if title is not None and title != self.title:
            self._retitle(title)
        if history is not None:
            self._merge_history(*history)
        self._change_fields(parse_fields(doc))
        if tags is not None and tags != self.tags:
            self._change_tags(tags)

    @_chat_errors
    def rename(self, title: str | None) -> None:
        self._live()
        title = parse_title(title)
        if title != self.title:
            self._retitle(title)

    @_chat_errors
    def upsert_message(self, message_id: str, message: Mapping[str, Any]) -> None:
        """POST /chats/{id}/messages/{message_id}: shallow-merge one message, make it current."""
        self._live()
        message_id = required_str(message_id, "message_id")
        incoming = normalise_message(message_id, json_object(message, "message"))
        if message_id not in self.messages:
            self._add_message(incoming)
        else:
            changes = message_changes(self.messages[message_id], incoming)
            if changes:
                self._edit_message(message_id, changes)
        if self.current_id != message_id:
            self._move_current(message_id)

    @_chat_errors
    def record_message_event(self, message_id: str, event_type: str, data: Any) -> None:
        """POST /chats/{id}/messages/{message_id}/event: a realtime event for a message.

        Always recorded (the realtime feed delivers it); types that Open WebUI
        persists (status, content deltas, files, sources, ...) also update the message,
        recorded as a MessageEdited of the changed keys so read models see every change
        of a message through one event type.
        """
        self._live()
        message_id = required_str(message_id, "message_id")
        event_type = required_str(event_type, "event type")
        data = json_object(data, "event data")
        self._record_message_event(message_id, event_type, data)
        message = self.messages.get(message_id)
        updated = None if message is None else apply_message_event(message, event_type, data)
        changes = message_changes(message, updated) if message and updated else {}
        if changes:
            self._edit_message(message_id, changes)

    def pin(self) -> None:
        self._live()
        if not self.pinned:
            self._pin()

    def unpin(self) -> None:
        self._live()
        if self.pinned:
            self._unpin()

    def toggle_pinned(self) -> None:
        if self.pinned:
            self.unpin()
        else:
            self.pin()

    def archive(self) -> None:
        self._live()
        if not self.archived:
            self._archive()

    def unarchive(self) -> None:
        self._live()
        if self.archived:
            self._unarchive()

    def toggle_archived(self) -> None:
        if self.archived:
            self.unarchive()
        else:
            self.archive()

    @_chat_errors
    def share(self, share_id: str) -> None:
        """Publish the chat under `share_id`; sharing again republishes the current state."""
        self._live()
        share_id = required_str(share_id, "share_id")
        # The shared copy is the chat as of the Shared event; nothing to do if that is now.
        if share_id != self.share_id or self.shared_version != self.version:
            self._share(share_id)

    def unshare(self) -> None:
        self._live()
        if self.share_id is not None:
            self._unshare()

    @_chat_errors
    def move_to_folder(self, folder_id: str | None) -> None:
        """Move into a folder (None: back to the chat list). Unpins, as Open WebUI does."""
        self._live()
        folder_id = optional_str(folder_id, "folder_id")
        if folder_id != self.folder_id:
            self._move_to_folder(folder_id)

    @_chat_errors
    def add_tag(self, name: str) -> None:
        self._live()
        tags = normalize_tags([name])
        if not tags:
            raise ChatError(f"not a usable tag name: {name!r}")
        if tags[0] not in self.tags:
            self._add_tag(tags[0])

    @_chat_errors
    def remove_tag(self, name: str) -> None:
        self._live()
        tag = normalize_tag(required_str(name, "tag name"))
        if tag in self.tags:
            self._remove_tag(tag)

    def clear_tags(self) -> None:
        self._live()
        if self.tags:
            self._clear_tags()

    @_chat_errors
    def set_tags(self, names: Iterable[Any]) -> None:
        self._live()
        tags = normalize_tags(names)
        if tags != self.tags:
            self._change_tags(tags)

    @_chat_errors
    def set_meta(self, meta: Mapping[str, Any]) -> None:
        """Replace `meta`. A `tags` key is ignored: tags change only through tag commands."""
        self._live()
        new_meta = {k: v for k, v in json_object(meta, "meta").items() if k != "tags"}
        if new_meta != self.meta:
            self._change_meta(new_meta)

    def delete(self) -> None:
        """Move to the trash: the history stays in the log; later commands raise until restored."""
        if not self.deleted:
            self._delete()

    def restore(self) -> None:
        """Take the chat out of the trash, with everything it had. A purged chat is gone."""
        if self.purged:
            raise ChatDeletedError(f"chat {self.id} is purged")
        if not self.deleted:
            raise ChatNotDeletedError(f"chat {self.id} is not in the trash")
        self._restore()

    def purge(self) -> None:
        """Empty the chat out of the trash for good (the log keeps it until erasure)."""
        if not self.deleted:
            raise ChatNotDeletedError(f"chat {self.id} is not in the trash")
        if not self.purged:
            self._purge()

    def purge_at(self, trash_seconds: float) -> float | None:
        """Epoch seconds when a trashed chat leaves the restore window (None: not restorable)."""
        if not self.deleted or self.purged or self.deleted_at is None:
            return None
        return self.deleted_at + trash_seconds

    # ---- helpers -----------------------------------------------------------------

    def _changed_history(self, chat_json: Mapping[str, Any]) -> tuple[Messages, str | None] | None:
        """The incoming (messages, currentId), leaving out exact copies of stored messages.

        The client resends the whole chat on every save; comparing before copying keeps a
        save of a long chat from deep-copying every message it already has.
        """
        parsed = parse_history(chat_json)
        if parsed is None:
            return None
        messages, current_id = parsed
        changed = {json_key(mid): json_data(m) for mid, m in messages.items()
                   if normalise_message(mid, m) != self.messages.get(mid)}
        return changed, json_data(current_id)

    def _merge_history(self, messages: Messages, current_id: str | None) -> None:
        added, edited = diff_messages(self.messages, messages)
        for message in added:
            self._add_message(message)
        for message_id, changes in edited:
            self._edit_message(message_id, changes)
        if current_id in self.messages and current_id != self.current_id:
            self._move_current(current_id)

    def _change_fields(self, fields: dict[str, Any]) -> None:
        changes = {k: v for k, v in fields.items() if k not in self.fields or self.fields[k] != v}
        if changes:
            self._record_fields(changes)

    # ---- events (method bodies are the event appliers, also run on replay) --------

    @event("TitleChanged")
    def _retitle(self, title: str) -> None:
        self.title = title

    # -- replies the server generates (a web-app completion) ---------------------------------
    # Their own events: the realtime feed does not turn them into `chat:message` payloads,
    # which would overwrite the content a client is building from the streamed deltas.
    @_chat_errors
    def start_reply(self, message: Mapping[str, Any], task_id: str) -> None:
        """An assistant reply begins: the message as the server will fill it, made current;
        `task_id` names the task streaming it (who may stop it, whether it still runs)."""
        self._live()
        message_id = required_str(json_object(message, "message").get("id"), "message id")
        stored = self.messages.get(message_id, {})
        self._reply_started(self.owner_id, task_id,
                            {**stored, **normalise_message(message_id, message)})
        if self.current_id != message_id:
            self._move_current(message_id)

    def checkpoint_reply(self, message_id: str, content: str) -> bool:
        """What a streaming reply holds so far, so that a crash loses at most one interval.
        Only what arrived since the last checkpoint is recorded: the bytes a reply writes grow
        with the reply, once."""
        self._live()
        if message_id not in self.messages:
            raise ChatError(f"no message {message_id}")
        stored = self.messages[message_id].get("content") or ""
        if not isinstance(stored, str) or not content.startswith(stored) or content == stored:
            return False  # nothing new (or not a continuation): the end records it all
        self._reply_checkpointed(message_id, content[len(stored):])
        return True

    @_chat_errors
    def finish_reply(self, message_id: str, changes: Mapping[str, Any]) -> None:
        """The reply ends once: its content, usage and error, `done`."""
        self._live()
        if message_id not in self.messages:
            raise ChatError(f"no message {message_id}")
        if self.messages[message_id].get("done") is True:
            raise ChatError(f"the reply {message_id} has ended")
        self._reply_finished(message_id, {**json_data(dict(changes)), "done": True})

    @event("ReplyStarted")
    def _reply_started(self, user_id: str, task_id: str, message: dict[str, Any],
                       timestamp: datetime | None = None) -> None:
        self.messages[message["id"]] = deepcopy(message)
        self.updated_at = epoch(timestamp)

    @event("ReplyCheckpointed")
    def _reply_checkpointed(
        self, message_id: str, appended: str, timestamp: datetime | None = None
    ) -> None:
        message = self.messages[message_id]
        self.messages[message_id] = {**message, "content": (message.get("content") or "")
                                     + appended}
        self.updated_at = epoch(timestamp)

    @event("ReplyFinished")
    def _reply_finished(
        self, message_id: str, changes: dict[str, Any], timestamp: datetime | None = None
    ) -> None:
        self.messages[message_id] = {**self.messages[message_id], **deepcopy(changes)}
        self.updated_at = epoch(timestamp)

    @event("MessageAdded")
    def _add_message(self, message: dict[str, Any], timestamp: datetime | None = None) -> None:
        self.messages[message["id"]] = deepcopy(message)
        self.updated_at = epoch(timestamp)

    @event("MessageEdited")
    def _edit_message(
        self, message_id: str, changes: dict[str, Any], timestamp: datetime | None = None
    ) -> None:
        self.messages[message_id] = {**self.messages[message_id], **deepcopy(changes)}
        self.updated_at = epoch(timestamp)

    @event("CurrentMessageMoved")
    def _move_current(self, current_id: str, timestamp: datetime | None = None) -> None:
        self.current_id = current_id
        self.updated_at = epoch(timestamp)

    @event("FieldsChanged")
    def _record_fields(self, changes: dict[str, Any]) -> None:
        self.fields = {**self.fields, **deepcopy(changes)}

    @event("MessageEventRecorded")
    def _record_message_event(self, message_id: str, event_type: str, data: dict[str, Any]) -> None:
        """A record for the realtime feed only; its effect on the message is a MessageEdited."""

    @event("TagsChanged")
    def _change_tags(self, tags: list[str]) -> None:
        self.tags = list(tags)

    @event("TagAdded")
    def _add_tag(self, tag: str) -> None:
        self.tags = [*self.tags, tag]

    @event("TagRemoved")
    def _remove_tag(self, tag: str) -> None:
        self.tags = [t for t in self.tags if t != tag]

    @event("TagsCleared")
    def _clear_tags(self) -> None:
        self.tags = []

    # Open WebUI touches updated_at when pinning, archiving and moving chats.
    @event("Pinned")
    def _pin(self, timestamp: datetime | None = None) -> None:
        self.pinned = True
        self.updated_at = epoch(timestamp)

    @event("Unpinned")
    def _unpin(self, timestamp: datetime | None = None) -> None:
        self.pinned = False
        self.updated_at = epoch(timestamp)

    # Open WebUI's archive toggle also takes the chat out of its folder.
    @event("Archived")
    def _archive(self, timestamp: datetime | None = None) -> None:
        self.archived = True
        self.folder_id = None
        self.updated_at = epoch(timestamp)

    @event("Unarchived")
    def _unarchive(self, timestamp: datetime | None = None) -> None:
        self.archived = False
        self.folder_id = None
        self.updated_at = epoch(timestamp)

    @event("Shared")
    def _share(self, share_id: str) -> None:
        self.share_id = share_id
        # Appliers run before the library bumps `version`: this event's version is +1.
        self.shared_version = self.version + 1

    @event("Unshared")
    def _unshare(self) -> None:
        self.share_id = None
        self.shared_version = None

    @event("MovedToFolder")
    def _move_to_folder(self, folder_id: str | None, timestamp: datetime | None = None) -> None:
        self.folder_id = folder_id
        self.pinned = False
        self.updated_at = epoch(timestamp)

    @event("MetaChanged")
    def _change_meta(self, meta: dict[str, Any]) -> None:
        self.meta = deepcopy(meta)

    @event("Deleted")
    def _delete(self, timestamp: datetime | None = None) -> None:
        self.deleted = True
        self.deleted_at = epoch(timestamp)

    # A restore counts as an update, or the retention policy would trash the chat again.
    @event("Restored")
    def _restore(self, timestamp: datetime | None = None) -> None:
        self.deleted = False
        self.deleted_at = None
        self.updated_at = epoch(timestamp)

    @event("Purged")
    def _purge(self) -> None:
        self.purged = True
