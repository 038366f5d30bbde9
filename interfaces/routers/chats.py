"""/api/v1/chats: one chat from its aggregate; lists, tags and search from the chats read model.

Static paths are declared before `/{id}` so they are never taken for a chat id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import StreamingResponse

from application.chats import ImportedChat
from domain.chat import Chat
from interfaces import bounds
from interfaces.deps import AdminUser, VerifiedUser, Write, consistent
from interfaces.schemas.chats import (
    ChatFolderIdForm,
    ChatForm,
    ChatResponse,
    ChatsImportForm,
    ChatTitleIdResponse,
    CloneForm,
    EventForm,
    MessageForm,
    ShareChatForm,
    SharedChatResponse,
    TagFilterForm,
    TagForm,
    TagModel,
    TrashedChatResponse,
    chat_response,
    shared_response,
    tag_models,
    title_item,
    trash_item,
)
from interfaces.schemas.json_limits import JSONObject
from interfaces.services import Chats

router = APIRouter(prefix="/api/v1/chats", tags=["chats"])
CHATS = consistent("chats")
CHATS_AND_FOLDERS = consistent("chats", "folders")
NDJSON = "application/x-ndjson"

Page = Annotated[bounds.Page | None, Query()]
Text = Annotated[str | None, Query(max_length=1_000)]
Titles = list[ChatTitleIdResponse]
Trash = list[TrashedChatResponse]


def _titles(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [title_item(r) for r in rows]


def _json_array(chats: Iterator[Chat]) -> Iterator[str]:
    """A JSON array written as it is read, so a large export never sits in memory whole."""
    yield "["
    for index, chat in enumerate(chats):
        yield ("," if index else "") + json.dumps(chat_response(chat))
    yield "]"


def _stream(request: Request, chats: Iterator[Chat]) -> StreamingResponse:
    """The spec's JSON array; NDJSON (one chat a line) when the client asks for it."""
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse((json.dumps(chat_response(c)) + "\n" for c in chats),
                                 media_type=NDJSON)
    return StreamingResponse(_json_array(chats), media_type="application/json")


# -- lists ----------------------------------------------------------------------------------
@router.get("/", response_model=Titles, dependencies=[CHATS])
@router.get("/list", response_model=Titles, dependencies=[CHATS])
def list_chats(principal: VerifiedUser, chats: Chats, page: Page = None,
               include_pinned: bool | None = False, include_folders: bool | None = False,
               sort_by: Text = None, sort_dir: Text = None) -> list[dict[str, Any]]:
    """The caller's chat titles, newest first, paged."""
    return _titles(chats.list_chats(principal, page, bool(include_pinned),
                                    bool(include_folders), sort_by, sort_dir))


@router.delete("/", response_model=bool, dependencies=[CHATS])
def delete_all(principal: VerifiedUser, chats: Chats, written: Write) -> bool:
    """Delete all of the caller's chats (restorable from the trash for a while)."""
    outcome = chats.delete_all(principal)
    written(outcome.position)
    return True


@router.get("/list/user/{user_id}", response_model=Titles, dependencies=[CHATS])
def list_user_chats(user_id: str, principal: AdminUser, chats: Chats,
                    page: Page = None, query: Text = None, order_by: Text = None,
                    direction: Text = None) -> list[dict[str, Any]]:
    """Another user's chat titles, filtered and paged (admins)."""
    return _titles(chats.list_filtered(user_id, None, page, query, order_by,
                                       direction))


@router.get("/archived", response_model=Titles, dependencies=[CHATS])
def archived_list(principal: VerifiedUser, chats: Chats, page: Page = None,
                  query: Text = None, order_by: Text = None,
                  direction: Text = None) -> list[dict[str, Any]]:
    """The caller's archived chat titles, filtered and paged."""
    return _titles(chats.list_filtered(principal.id, True, page, query, order_by,
                                       direction))


@router.get("/archived/count", response_model=int, dependencies=[CHATS])
def archived_count(principal: VerifiedUser, chats: Chats) -> int:
    """How many chats the caller archived."""
    return chats.archived_count(principal)


@router.get("/shared", response_model=list[SharedChatResponse], dependencies=[CHATS])
def shared_list(principal: VerifiedUser, chats: Chats, page: Page = None, query: Text = None,
                order_by: Text = None, direction: Text = None) -> list[dict[str, Any]]:
    """The caller's chats that have a share link, filtered by title and paged."""
    rows = chats.shared_list(principal, page or 1, query, order_by, direction)
    return [{"chat_id": r["id"], **{k: r[k] for k in ("id", "title", "share_id", "updated_at",
                                                       "created_at")}} for r in rows]


@router.post("/read")
def mark_all_read(principal: VerifiedUser) -> dict[str, Any]:
    """Mark every chat read: chats are never unread here (no read tracking), so none change."""
    return {"updated_count": 0, "folder_unread_counts": {}}


@router.get("/pinned", response_model=Titles, dependencies=[CHATS])
def pinned_list(principal: VerifiedUser, chats: Chats) -> list[dict[str, Any]]:
    """The caller's pinned chat titles."""
    return _titles(chats.pinned(principal))


@router.get("/search", response_model=Titles, dependencies=[CHATS_AND_FOLDERS])
def search(principal: VerifiedUser, chats: Chats,
           text: Annotated[str, Query(max_length=1_000)], page: Page = None
           ) -> list[dict[str, Any]]:
    """The caller's chats matching a search text (which may name tags and folders), paged."""
    return _titles(chats.search(principal, text, page))


@router.post("/tags", response_model=Titles, dependencies=[CHATS])
def chats_by_tag(form: TagFilterForm, principal: VerifiedUser,
                 chats: Chats) -> list[dict[str, Any]]:
    # As the reference, a limit of 0 (or null) means no limit; the form caps it otherwise.
    """The caller's chats carrying a tag, paged."""
    rows = chats.by_tag(principal, form.name, form.skip or 0, form.limit or 10_000)
    return _titles(rows)


@router.get("/all/tags", response_model=list[TagModel], dependencies=[CHATS])
def all_tags(principal: VerifiedUser, chats: Chats) -> list[dict[str, Any]]:
    """Every tag on the caller's chats."""
    return tag_models(principal.id, chats.tags(principal))


# -- the trash (not in reference): before `/{id}`, so "trash" is never taken for a chat id ----
@router.get("/trash", response_model=Trash, dependencies=[CHATS])
def trash_list(principal: VerifiedUser, chats: Chats,
               page: Page = None) -> list[dict[str, Any]]:
    """The caller's restorable chats, with their purge time, paged."""
    return [trash_item(r) for r in chats.trash(principal, page)]


@router.get("/trash/all", response_model=Trash, dependencies=[CHATS])
def trash_all(principal: AdminUser, chats: Chats,
              page: Page = None) -> list[dict[str, Any]]:
    """Every user's restorable chats, with their purge time, paged (admins)."""
    return [trash_item(r) for r in chats.trash(principal, page, everyone=True)]


@router.delete("/trash/{id}", response_model=bool)
def purge(id: str, principal: VerifiedUser,
          chats: Chats, written: Write) -> bool:
    """Delete a trashed chat for good."""
    outcome = chats.purge(principal, id)
    written(outcome.position)
    return True


@router.post("/{id}/restore", response_model=ChatResponse | None)
def restore(id: str, principal: VerifiedUser,
            chats: Chats, written: Write) -> dict[str, Any]:
    """Bring a chat back from the trash."""
    outcome = chats.restore(principal, id)
    written(outcome.position)
    return chat_response(outcome.value)


# -- chat bodies in bulk (aggregates, streamed) ---------------------------------------------
@router.get("/all", response_model=list[ChatResponse], dependencies=[CHATS])
def all_chats(request: Request, principal: VerifiedUser,
              chats: Chats) -> StreamingResponse:
    """Every one of the caller's chats, whole (streamed)."""
    return _stream(request, chats.bodies(chats.everything(principal.id)))


@router.get("/all/archived", response_model=list[ChatResponse], dependencies=[CHATS])
def all_archived(request: Request, principal: VerifiedUser,
                 chats: Chats) -> StreamingResponse:
    """Every one of the caller's archived chats, whole (streamed)."""
    return _stream(request, chats.bodies(chats.everything(principal.id, archived=True)))


@router.get("/all/db", response_model=list[ChatResponse], dependencies=[CHATS])
def all_in_db(request: Request, principal: AdminUser,
              chats: Chats) -> StreamingResponse:
    """Every chat of every user, whole (admins; streamed)."""
    return _stream(request, chats.bodies(chats.everything(None)))


@router.get("/folder/{folder_id}/list", response_model=Titles, dependencies=[CHATS])
def folder_chat_titles(folder_id: str, principal: VerifiedUser, chats: Chats, page: Page = 1,
                       sort_by: Text = None, sort_dir: Text = None) -> list[dict[str, Any]]:
    """A page of the chat titles filed in one of the caller's folders (the sidebar's folder)."""
    return _titles(chats.folder_page(principal, folder_id, page or 1, sort_by or "updated_at",
                                     sort_dir or "desc"))


@router.get("/folder/{folder_id}", response_model=list[ChatResponse],
            dependencies=[CHATS_AND_FOLDERS])
def folder_chats(folder_id: str, principal: VerifiedUser,
                 chats: Chats) -> list[dict[str, Any]]:
    """The caller's chats in a folder."""
    return [chat_response(c) for c in chats.bodies(chats.in_folder(principal, folder_id))]


# -- creating -------------------------------------------------------------------------------
@router.post("/new", response_model=ChatResponse | None)
def create_chat(form: ChatForm, principal: VerifiedUser,
                chats: Chats, written: Write) -> dict[str, Any]:
    """Create a chat."""
    outcome = chats.create(principal, form.chat, form.folder_id, form.meta, form.tags)
    written(outcome.position)
    return chat_response(outcome.value)


@router.post("/import", response_model=list[ChatResponse])
def import_chats(form: ChatsImportForm, principal: VerifiedUser,
                 chats: Chats, written: Write) -> list[dict[str, Any]]:
    """Import chats (with their dates, folders and pins)."""
    items = [ImportedChat(chat=f.chat, meta=f.meta, pinned=bool(f.pinned),
                          archived=bool(f.archived), folder_id=f.folder_id,
                          created_at=f.created_at, updated_at=f.updated_at) for f in form.chats]
    outcome = chats.import_chats(principal, items)
    written(outcome.position)
    return [chat_response(c) for c in outcome.value]


# -- bulk flags -----------------------------------------------------------------------------
@router.post("/archive/all", response_model=bool, dependencies=[CHATS])
def archive_all(principal: VerifiedUser, chats: Chats, written: Write) -> bool:
    """Archive all of the caller's chats."""
    outcome = chats.archive_all(principal)
    written(outcome.position)
    return True


@router.post("/unarchive/all", response_model=bool, dependencies=[CHATS])
def unarchive_all(principal: VerifiedUser, chats: Chats, written: Write) -> bool:
    """Unarchive all of the caller's chats."""
    outcome = chats.unarchive_all(principal)
    written(outcome.position)
    return True


# -- sharing --------------------------------------------------------------------------------
@router.get("/share/{share_id}", response_model=ChatResponse | None, dependencies=[CHATS])
def get_shared(share_id: str, principal: VerifiedUser, chats: Chats) -> dict[str, Any]:
    """A shared chat's snapshot, by its share id."""
    return shared_response(*chats.shared(principal, share_id))


@router.post("/{id}/clone/shared", response_model=ChatResponse | None, dependencies=[CHATS])
def clone_shared(id: str, principal: VerifiedUser,
                 chats: Chats, written: Write) -> dict[str, Any]:
    """Copy a chat shared with the caller into their own chats."""
    outcome = chats.clone_shared(principal, id)
    written(outcome.position)
    return chat_response(outcome.value)


@router.post("/{id}/share", response_model=ChatResponse | None)
def share(id: str, principal: VerifiedUser, chats: Chats, written: Write,
          form: ShareChatForm | None = None) -> dict[str, Any]:
    # share_mode "continue" (others may continue the chat) is accepted but not modelled yet.
    """Share a chat: a snapshot anyone signed in can open by its share id."""
    outcome = chats.share(principal, id)
    written(outcome.position)
    return chat_response(outcome.value[0])


@router.delete("/{id}/share", response_model=bool | None)
def unshare(id: str, principal: VerifiedUser,
            chats: Chats, written: Write) -> bool:
    """Stop sharing a chat."""
    outcome = chats.unshare(principal, id)
    written(outcome.position)
    return outcome.value[1]


# -- one chat -------------------------------------------------------------------------------
@router.get("/{id}", response_model=ChatResponse | None)
def get_chat(id: str, principal: VerifiedUser, chats: Chats) -> dict[str, Any]:
    """One of the caller's chats."""
    return chat_response(chats.readable(principal, id))


@router.post("/{id}", response_model=ChatResponse | None)
async def update_chat(id: str, form: ChatForm, principal: VerifiedUser,
                      chats: Chats, written: Write) -> dict[str, Any]:
    """Merge changes into a chat."""
    outcome = await chats.update(principal, id, form.chat)
    await written.noted(outcome.position)
    return chat_response(outcome.value[0])


@router.delete("/{id}", response_model=bool)
def delete_chat(id: str, principal: VerifiedUser,
                chats: Chats, written: Write) -> bool:
    """Delete a chat (restorable from the trash for a while)."""
    outcome = chats.delete(principal, id)
    written(outcome.position)
    return True


@router.patch("/{id}/params", response_model=dict[str, Any])
async def update_chat_params(id: str, form: Annotated[JSONObject, Body()],
                             principal: VerifiedUser, chats: Chats,
                             written: Write) -> dict[str, Any]:
    """Merge chat-level params (system prompt, advanced params) into one of the caller's chats."""
    outcome = await chats.update_params(principal, id, form)
    await written.noted(outcome.position)
    return outcome.value


@router.post("/{id}/messages/{message_id}", response_model=ChatResponse | None)
async def update_message(id: str, message_id: str, form: MessageForm,
                         principal: VerifiedUser,
                         chats: Chats, written: Write) -> dict[str, Any]:
    """Set a message's content."""
    outcome = await chats.upsert_message(principal, id, message_id,
                                         form.content or "")
    await written.noted(outcome.position)
    return chat_response(outcome.value[0])


@router.post("/{id}/messages/{message_id}/event", response_model=bool | None)
async def message_event(id: str, message_id: str, form: EventForm, principal: VerifiedUser,
                        chats: Chats, written: Write) -> bool:
    # Recorded now; the realtime feed delivers it to the owner's sockets from the log.
    """Record an event on a message (status, source, notification...)."""
    outcome = await chats.message_event(principal, id, message_id, form.type,
                                        form.data)
    await written.noted(outcome.position)
    return True


@router.get("/{id}/pinned", response_model=bool | None)
def pinned_status(id: str, principal: VerifiedUser, chats: Chats) -> bool:
    """Whether a chat is pinned."""
    return chats.own(principal, id).pinned


@router.post("/{id}/pin", response_model=ChatResponse | None)
def pin(id: str, principal: VerifiedUser,
        chats: Chats, written: Write) -> dict[str, Any]:
    """Pin or unpin a chat."""
    outcome = chats.toggle_pin(principal, id)
    written(outcome.position)
    return chat_response(outcome.value[0])


@router.post("/{id}/archive", response_model=ChatResponse | None)
def archive(id: str, principal: VerifiedUser,
            chats: Chats, written: Write) -> dict[str, Any]:
    """Archive or unarchive a chat."""
    outcome = chats.toggle_archive(principal, id)
    written(outcome.position)
    return chat_response(outcome.value[0])


@router.post("/{id}/clone", response_model=ChatResponse | None)
def clone(id: str, principal: VerifiedUser, chats: Chats, written: Write,
          form: CloneForm | None = None) -> dict[str, Any]:
    """Copy a chat (with a new title)."""
    outcome = chats.clone(principal, id, form.title if form else None)
    written(outcome.position)
    return chat_response(outcome.value)


@router.post("/{id}/folder", response_model=ChatResponse | None)
def move_to_folder(id: str, form: ChatFolderIdForm, principal: VerifiedUser,
                   chats: Chats, written: Write) -> dict[str, Any]:
    """Move a chat into a folder, or out of any."""
    outcome = chats.move_to_folder(principal, id, form.folder_id)
    written(outcome.position)
    return chat_response(outcome.value[0])


# -- tags of one chat -----------------------------------------------------------------------
@router.get("/{id}/tags", response_model=list[TagModel])
def chat_tags(id: str, principal: VerifiedUser, chats: Chats) -> list[dict[str, Any]]:
    """A chat's tags."""
    return tag_models(principal.id, chats.own(principal, id).tags)


@router.post("/{id}/tags", response_model=list[TagModel])
def add_tag(id: str, form: TagForm, principal: VerifiedUser,
            chats: Chats, written: Write) -> list[dict[str, Any]]:
    """Tag a chat."""
    outcome = chats.add_tag(principal, id, form.name)
    written(outcome.position)
    return tag_models(principal.id, outcome.value[0].tags)


@router.delete("/{id}/tags", response_model=list[TagModel])
def remove_tag(id: str, form: TagForm, principal: VerifiedUser,
               chats: Chats, written: Write) -> list[dict[str, Any]]:
    """Remove a tag from a chat."""
    outcome = chats.remove_tag(principal, id, form.name)
    written(outcome.position)
    return tag_models(principal.id, outcome.value[0].tags)
