"""Note use cases: commands on the Note aggregate; lists, search and pins from the notes read model.

Authorization follows Open WebUI 0.12.4 (routers/notes.py): the notes feature must be on (else
403 "Notes is disabled"), users need `features.notes` (else 401), admins bypass both and every
note's access. A note is private to its owner unless its grants share it (`application/access.py`
states the rule): reading (get, pin) needs read access, changing it (update, access, delete)
write access, else 403 "Something went wrong :/"; an unknown id is 404. The plain and pinned
lists show even an admin only what is theirs or shared with them, as the reference does; search
shows an admin every note.

The collaborative editor's snapshots arrive through `save_content`, coalesced by the socket
layer; `can_open` answers the socket layer's room checks from the read model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from application.access import (
    PRIVATE,
    AccessControlled,
    GroupMembership,
    Viewer,
    sharing_filter,
    validated_sharing,
)
from application.auth import Principal
from application.commands import CommandRunner, Outcome
from application.domain_errors import domain_errors
from application.errors import Forbidden, NotFound, Unauthorized
from application.messages import Detail
from application.paging import page_or_all, page_window
from application.permissions import allowed
from application.ports import EventStorePort, ProjectionWaiter
from domain.note import Note, NoteError

PAGE_SIZE = 60  # the reference's limit for `/` with a page and for `/search`
PREVIEW_CHARS = 1000  # lists carry the first 1000 characters of the markdown only
ORDERABLE = ("name", "created_at", "updated_at")
CATCH_UP_SECONDS = 2.0  # how long a socket's room check waits for a note it cannot see yet
Row = dict[str, Any]


@dataclass
class NoteFilter:
    query: str | None = None
    view_option: str | None = None  # "created": mine; "shared": others'
    permission: str = "write"  # the reference's default for search
    order_by: str = "updated_at"
    direction: str = "desc"
    user_id: str = ""  # whose "created"/"shared" view


class NotesReadModel(Protocol):
    def get(self, note_id: str) -> Row | None: ...

    def listing(self, viewer: Viewer, offset: int, limit: int | None) -> list[Row]: ...

    def pinned(self, viewer: Viewer) -> list[Row]: ...

    def search(self, viewer: Viewer | None, flt: NoteFilter, offset: int,
               limit: int) -> tuple[list[Row], int]: ...

    def pinned_ids(self, user_id: str, note_ids: list[str]) -> set[str]: ...


def sanitize_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """content.md is always markdown text, as the reference's sanitize_note_data makes it."""
    if data is None:
        return None
    content = data.get("content")
    if not isinstance(content, dict) or "md" not in content or isinstance(content["md"], str):
        return data
    md = content["md"]
    if md is None:
        text = ""
    elif isinstance(md, dict | list):
        text = f"```json\n{json.dumps(md, indent=2, ensure_ascii=False)}\n```"
    else:
        text = str(md)
    return {**data, "content": {**content, "md": text}}


def preview(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """A list entry's data: the markdown's first characters only (the reference's truncation)."""
    if not data:
        return data
    content = data.get("content")
    md = (content.get("md") if isinstance(content, dict) else None) or ""
    return {"content": {"md": str(md)[:PREVIEW_CHARS]}}


class NoteService(AccessControlled):
    def __init__(self, store: EventStorePort, runner: CommandRunner, notes: NotesReadModel,
                 groups: GroupMembership, permissions: Callable[[str], dict[str, Any]],
                 enabled: Callable[[], bool], waiter: ProjectionWaiter | None = None):
        self.store = store
        self.runner = runner
        self.notes = notes
        self.groups = groups
        self.permissions = permissions
        self.enabled = enabled
        self.waiter = waiter

    # -- who ----------------------------------------------------------------------------------
    def _require(self, principal: Principal) -> None:
        """The feature is on, and the caller is an admin or holds `features.notes`."""
        if not self.enabled():
            raise Forbidden(Detail.FEATURE_DISABLED("Notes"))
        if not principal.is_admin and not allowed(self.permissions(principal.id), "features.notes"):
            raise Unauthorized(Detail.UNAUTHORIZED)

    def _own_viewer(self, principal: Principal) -> Viewer:
        """The caller as a viewer, admins included (the plain lists do not bypass access)."""
        return Viewer(principal.id, tuple(self.groups.group_ids(principal.id)))

    # -- loading ------------------------------------------------------------------------------
    def _load(self, note_id: str) -> Note:
        try:
            aggregate = self.store.get(UUID(note_id))
        except ValueError:
            aggregate = None
        if not isinstance(aggregate, Note) or aggregate.deleted:
            raise NotFound(Detail.NOT_FOUND)
        return aggregate

    def _allowed(self, viewer: Viewer | None, note: Note, permission: str) -> Note:
        if not self.can(viewer, note.user_id, note.access_control, permission):
            raise Forbidden(Detail.DEFAULT())
        return note

    # -- queries ------------------------------------------------------------------------------
    def listing(self, principal: Principal, page: int | None) -> list[Row]:
        """`GET /`: what the caller may read, newest change first; all of it without a page."""
        self._require(principal)
        offset, limit = page_or_all(page, PAGE_SIZE)
        return self._pins(principal, self.notes.listing(self._own_viewer(principal), offset,
                                                        limit))

    def pinned(self, principal: Principal) -> list[Row]:
        self._require(principal)
        rows = self.notes.pinned(self._own_viewer(principal))
        for row in rows:
            row["is_pinned"] = True
            row["data"] = preview(row["data"])
        return rows

    def search(self, principal: Principal, flt: NoteFilter, page: int | None
               ) -> tuple[list[Row], int]:
        self._require(principal)
        flt.user_id = principal.id
        flt.order_by = flt.order_by if flt.order_by in ORDERABLE else "updated_at"
        flt.direction = "asc" if (flt.direction or "").lower() == "asc" else "desc"
        offset, limit = page_window(page, PAGE_SIZE)
        rows, total = self.notes.search(self.viewer(principal), flt, offset, limit)
        return self._pins(principal, rows), total

    def _pins(self, principal: Principal, rows: list[Row]) -> list[Row]:
        pinned = self.notes.pinned_ids(principal.id, [r["id"] for r in rows]) if rows else set()
        for row in rows:
            row["is_pinned"] = row["id"] in pinned
            row["data"] = preview(row["data"])
        return rows

    def get(self, principal: Principal, note_id: str) -> tuple[Note, bool]:
        """The note (from the aggregate: the editor's latest save) and whether the caller may
        write it."""
        self._require(principal)
        viewer = self.viewer(principal)
        note = self._allowed(viewer, self._load(note_id), "read")
        return note, self.can(viewer, note.user_id, note.access_control, "write")

    def can_open(self, principal: Principal, note_id: str, write: bool = False,
                 at: int = 0) -> bool:
        """May the caller join the note's Socket.IO rooms (write: edit its document)?

        Answered from the read model, so only real notes open. A note the read model does not
        show yet (created or shared a moment ago) is looked up again once it caught up. `at`: a
        log position the answer must reflect (a change of the note's grants)."""
        if not principal.is_admin and not allowed(self.permissions(principal.id), "features.notes"):
            return False
        if at and self.waiter is not None:
            self.waiter.wait(["notes"], at, CATCH_UP_SECONDS)
        if self._may_open(principal, note_id, write):
            return True
        if self.waiter is None or not self.waiter.wait(["notes"], self.store.head(),
                                                       CATCH_UP_SECONDS):
            return False
        return self._may_open(principal, note_id, write)

    def content(self, note_id: str) -> Any:
        """The note's saved editor content (`data.content`), for a document's first editor; the
        caller's access was checked when they joined."""
        try:
            return (self._load(note_id).data or {}).get("content")
        except NotFound:
            return None

    def _may_open(self, principal: Principal, note_id: str, write: bool) -> bool:
        row = self.notes.get(note_id)
        return row is not None and self.can(self.viewer(principal), row["user_id"],
                                            row["access_control"], "write" if write else "read")

    # -- commands -----------------------------------------------------------------------------
    def create(self, principal: Principal, title: str, data: dict[str, Any] | None,
               meta: dict[str, Any] | None, access_control: dict[str, Any] | None,
               sent_access: bool) -> Outcome[Note]:
        """A new note, private unless the client sent grants the caller may give."""
        self._require(principal)
        asked = access_control if sent_access else PRIVATE
        access = sharing_filter(principal, self.permissions(principal.id), asked, "note")
        note = Note(user_id=principal.id, title=title, data=sanitize_data(data) or {},
                    meta=meta or {}, access_control=access)
        return self.runner.run("notes.create", lambda: (note, [note]))

    def update(self, principal: Principal, note_id: str, title: str | None,
               data: dict[str, Any] | None, meta: dict[str, Any] | None) -> Outcome[Note]:
        self._require(principal)
        viewer = self.viewer(principal)

        def decide() -> tuple[Note, list[Any]]:
            note = self._allowed(viewer, self._load(note_id), "write")
            with domain_errors(NoteError):
                note.update(title=title, data=sanitize_data(data), meta=meta)
            return note, [note]

        return self.runner.run("notes.update", decide)

    def save_content(self, principal: Principal, note_id: str, data: dict[str, Any]
                     ) -> Outcome[bool]:
        """The collaborative editor's content snapshot, saved once per burst of edits.

        Checked as the reference's document save: write access to a live note."""
        viewer = self.viewer(principal)

        def decide() -> tuple[bool, list[Any]]:
            note = self._allowed(viewer, self._load(note_id), "write")
            with domain_errors(NoteError):
                changed = note.save_content(sanitize_data(data) or {})
            return changed, [note] if changed else []

        return self.runner.run("notes.save_content", decide)

    def access_update(self, principal: Principal, note_id: str,
                      access_control: dict[str, Any]) -> Outcome[Note]:
        self._require(principal)
        viewer = self.viewer(principal)

        def decide() -> tuple[Note, list[Any]]:
            note = self._allowed(viewer, self._load(note_id), "write")
            access = validated_sharing(principal, self.permissions(principal.id), access_control, "note")
            note.set_access(access)
            return note, [note]

        return self.runner.run("notes.access_update", decide)

    def toggle_pin(self, principal: Principal, note_id: str) -> Outcome[Note]:
        self._require(principal)
        viewer = self.viewer(principal)

        def decide() -> tuple[Note, list[Any]]:
            note = self._allowed(viewer, self._load(note_id), "read")
            note.toggle_pin(principal.id)
            return note, [note]

        return self.runner.run("notes.pin", decide)

    def delete(self, principal: Principal, note_id: str) -> Outcome[bool]:
        self._require(principal)
        viewer = self.viewer(principal)

        def decide() -> tuple[bool, list[Any]]:
            note = self._allowed(viewer, self._load(note_id), "write")
            note.delete()
            return True, [note]

        return self.runner.run("notes.delete", decide)


def aggregate_row(note: Note, user_id: str) -> Row:
    """A note as the API shows it to `user_id`, straight from the aggregate."""
    return {"id": note.note_id, "user_id": note.user_id, "title": note.title, "data": note.data,
            "meta": note.meta, "access_control": note.access_control,
            "is_pinned": user_id in note.pinned_by, "created_at": note.created_at,
            "updated_at": note.updated_at}
