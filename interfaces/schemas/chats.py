"""Request/response models of /api/v1/chats/* (Open WebUI 0.12.4 OpenAPI component names).

Inputs are bounded so hostile input fails with 422 before it reaches the log (a timestamp
beyond BIGINT, say, would otherwise poison the read models).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from domain.chat import Chat
from interfaces import bounds
from interfaces.schemas.json_limits import JSONObject

MAX_IMPORT = 10_000  # chats in one import request (not in reference)
NAME_MAX_CHARS = 255  # tag names (not in reference)
ID_MAX_CHARS = 255  # ids chosen by the client: message ids, folder ids in forms

Epoch = bounds.Epoch
ShortText = Annotated[str, StringConstraints(max_length=NAME_MAX_CHARS)]
Identifier = Annotated[str, StringConstraints(max_length=ID_MAX_CHARS)]


# -- requests -------------------------------------------------------------------------------
class ChatForm(BaseModel):
    chat: JSONObject
    folder_id: Identifier | None = None
    variables: JSONObject | None = None
    # The spec's example body also carries these two beside `chat`.
    meta: JSONObject | None = None
    tags: list[ShortText] | None = None


class ChatImportForm(ChatForm):
    meta: JSONObject | None = {}
    pinned: bool | None = False
    archived: bool | None = False
    current_message_id: Identifier | None = None
    created_at: Epoch | None = None
    updated_at: Epoch | None = None


class ChatsImportForm(BaseModel):
    chats: list[ChatImportForm] = Field(max_length=MAX_IMPORT)


class TagForm(BaseModel):
    name: ShortText


class TagFilterForm(TagForm):
    skip: bounds.Offset | None = 0
    limit: Annotated[int, Field(ge=0, le=10_000)] | None = 50


class CloneForm(BaseModel):
    title: str | None = None


class ShareChatForm(BaseModel):
    share_mode: Literal["continue"] | None = None


class EventForm(BaseModel):
    type: ShortText
    data: JSONObject


class MessageForm(BaseModel):
    content: str | None = None
    voice: JSONObject | None = None


class ChatFolderIdForm(BaseModel):
    folder_id: Identifier | None = None


# -- responses ------------------------------------------------------------------------------
class ChatResponse(BaseModel):
    id: str
    user_id: str
    title: str
    chat: dict[str, Any]
    updated_at: int
    created_at: int
    share_id: str | None = None
    archived: bool
    pinned: bool | None = False
    meta: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    folder_id: str | None = None
    tasks: list[Any] | None = None
    summary: str | None = None
    current_message_id: str | None = None
    context_usage: dict[str, Any] | None = None


class ChatTitleIdResponse(BaseModel):
    id: str
    title: str
    updated_at: int
    created_at: int
    last_read_at: int | None = None
    snippet: str | None = None
    active: bool = False
    archived: bool = False
    # The spec's list example also shows these two.
    folder_id: str | None = None
    pinned: bool | None = False


class TrashedChatResponse(BaseModel):
    """A chat in the trash (not in reference): restorable until purge_at (epoch seconds)."""

    id: str
    user_id: str
    title: str
    updated_at: int
    created_at: int
    deleted_at: int
    purge_at: int
    archived: bool = False
    pinned: bool | None = False
    folder_id: str | None = None


class TagModel(BaseModel):
    id: str
    name: str
    user_id: str
    meta: dict[str, Any] | None = None


# -- converters -----------------------------------------------------------------------------
def chat_response(chat: Chat, copy: bool = True, **overrides: Any) -> dict[str, Any]:
    """ChatResponse of an aggregate (plain data: streamed responses serialise it directly)."""
    return {
        "id": str(chat.id), "user_id": chat.owner_id, "title": chat.title,
        "chat": chat.to_chat_json(copy), "updated_at": chat.updated_at,
        "created_at": chat.created_at, "share_id": chat.share_id, "archived": chat.archived,
        "pinned": chat.pinned, "meta": chat.response_meta(), "variables": {},
        "folder_id": chat.folder_id, "tasks": None, "summary": None,
        "current_message_id": chat.current_id, "context_usage": None, **overrides,
    }


def shared_response(chat: Chat, share_id: str | None) -> dict[str, Any]:
    """A shared chat as others see it: under its share id, without its owner's placement."""
    if share_id is None:  # an admin reading a chat by id
        return chat_response(chat)
    return chat_response(chat, id=share_id, share_id=share_id, pinned=False, archived=False,
                         folder_id=None, meta={})


def title_item(row: dict[str, Any]) -> dict[str, Any]:
    # No read tracking here: a chat counts as read as of its last change (the app marks a chat
    # without `last_read_at` unread, which would dot every chat in the sidebar).
    return {"id": row["id"], "title": row["title"], "updated_at": row["updated_at"],
            "created_at": row["created_at"], "last_read_at": row["updated_at"],
            "snippet": row.get("snippet"), "active": False, "archived": row["archived"],
            "folder_id": row["folder_id"], "pinned": row["pinned"]}


def trash_item(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "user_id", "title", "updated_at", "created_at",
                                "deleted_at", "purge_at", "archived", "pinned", "folder_id")}


def tag_models(user_id: str, tags: list[str]) -> list[dict[str, Any]]:
    # Chats keep normalised tag ids only, so a tag's name is its id.
    return [{"id": tag, "name": tag, "user_id": user_id, "meta": None} for tag in tags]


class SharedChatResponse(BaseModel):
    """An item of GET /chats/shared: one of the caller's chats with a share link."""

    id: str  # the chat's id, as 0.12.4
    chat_id: str
    title: str
    share_id: str | None = None
    updated_at: int
    created_at: int
