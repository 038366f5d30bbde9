"""/api/v1/notes: notes. Lists, search and pins from the notes read model; one note and the
answers to commands from the Note aggregate (so a note shows the editor's latest save)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from application.notes import NoteFilter, aggregate_row
from interfaces import bounds
from interfaces.deps import VerifiedUser, Write, consistent
from interfaces.schemas.notes import (
    NOTE_ID_MAX_CHARS,
    NoteAccessGrantsForm,
    NoteForm,
    NoteItemResponse,
    NoteListResponse,
    NoteModel,
    NoteResponse,
    NoteUpdateForm,
    QueryText,
    note_view,
)
from interfaces.services import Notes

router = APIRouter(prefix="/api/v1/notes", tags=["notes"])
NOTES = consistent("notes", "users", "groups")  # owners shown; access depends on groups

Text = Annotated[QueryText | None, Query()]
Page = Annotated[bounds.LenientPage | None, Query()]
NoteIdPath = Annotated[str, Path(max_length=NOTE_ID_MAX_CHARS)]


# -- lists ------------------------------------------------------------------------------------
@router.get("/", response_model=list[NoteItemResponse], dependencies=[NOTES])
def list_notes(principal: VerifiedUser, notes: Notes, page: Page = None) -> list[dict[str, Any]]:
    """The notes the caller may read, last changed first (60 a page, all without one)."""
    return notes.listing(principal, page)


@router.get("/pinned", response_model=list[NoteItemResponse], dependencies=[NOTES])
def pinned_notes(principal: VerifiedUser, notes: Notes) -> list[dict[str, Any]]:
    """The notes the caller pinned and may still read, last pinned first."""
    return notes.pinned(principal)


@router.get("/search", response_model=NoteListResponse, dependencies=[NOTES])
def search_notes(principal: VerifiedUser, notes: Notes, query: Text = None,
                 view_option: Text = None, permission: Text = None, order_by: Text = None,
                 direction: Text = None, page: Page = 1) -> dict[str, Any]:
    """Notes matching every word of the query, filtered, sorted and paged."""
    flt = NoteFilter(query=query, view_option=view_option, permission=permission or "write",
                     order_by=order_by or "updated_at", direction=direction or "desc")
    rows, total = notes.search(principal, flt, page)
    return {"items": [note_view(r) for r in rows], "total": total}


# -- one note ---------------------------------------------------------------------------------
@router.post("/create", response_model=NoteModel)
def create_note(form: NoteForm, principal: VerifiedUser, notes: Notes,
                written: Write) -> dict[str, Any]:
    """Create a note (private unless the caller shares it)."""
    sent, access = form.access()
    outcome = notes.create(principal, form.title, form.data, form.meta, access, sent)
    written(outcome.position)
    return note_view(aggregate_row(outcome.value, principal.id))


@router.get("/{id}", response_model=NoteResponse)
def get_note(id: NoteIdPath, principal: VerifiedUser, notes: Notes) -> dict[str, Any]:
    """One note, whole, with whether the caller may change it."""
    note, write_access = notes.get(principal, id)
    return {**note_view(aggregate_row(note, principal.id)), "write_access": write_access}


@router.post("/{id}/update", response_model=NoteModel)
def update_note(id: NoteIdPath, form: NoteUpdateForm, principal: VerifiedUser, notes: Notes,
                written: Write) -> dict[str, Any]:
    """Change a note's title, content or meta (merged over what it holds)."""
    outcome = notes.update(principal, id, form.title, form.data, form.meta)
    written(outcome.position)
    return note_view(aggregate_row(outcome.value, principal.id))


@router.post("/{id}/access/update", response_model=NoteModel)
def update_note_access(id: NoteIdPath, form: NoteAccessGrantsForm, principal: VerifiedUser,
                       notes: Notes, written: Write) -> dict[str, Any]:
    """Replace the note's access grants."""
    outcome = notes.access_update(principal, id, form.value())
    written(outcome.position)
    return note_view(aggregate_row(outcome.value, principal.id))


@router.post("/{id}/pin", response_model=NoteModel)
def pin_note(id: NoteIdPath, principal: VerifiedUser, notes: Notes,
             written: Write) -> dict[str, Any]:
    """Pin the note for the caller, or unpin it if it was pinned."""
    outcome = notes.toggle_pin(principal, id)
    written(outcome.position)
    return note_view(aggregate_row(outcome.value, principal.id))


@router.delete("/{id}/delete", response_model=bool)
def delete_note(id: NoteIdPath, principal: VerifiedUser, notes: Notes, written: Write) -> bool:
    """Delete a note."""
    outcome = notes.delete(principal, id)
    written(outcome.position)
    return True
