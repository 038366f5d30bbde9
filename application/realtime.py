"""Who may join which realtime room: notes (and their Yjs documents) and channels.

The socket layer asks these questions; the answers come from ports other features provide: the
notes service (a note's owner and grants, from the notes read model) and channel membership.
"""

from __future__ import annotations

from typing import Protocol

from application.auth import Principal

NOTE_PREFIX = "note:"


class ChannelDirectory(Protocol):
    def channel_ids(self, user_id: str) -> list[str]: ...

    def mark_read(self, channel_id: str, user_id: str) -> None: ...


class NoteAccess(Protocol):
    def can_open(self, principal: Principal, note_id: str, write: bool = False,
                 at: int = 0) -> bool: ...


def normalize_document_id(document_id: str) -> str:
    """`note_x` and `note:x` name one document (as in Open WebUI): keep the checked form."""
    if document_id.startswith("note_"):
        return NOTE_PREFIX + document_id[5:]
    return document_id


def note_id_of(document_id: str) -> str | None:
    if document_id.startswith(NOTE_PREFIX) and len(document_id) > len(NOTE_PREFIX):
        return document_id[len(NOTE_PREFIX):]
    return None


class RealtimeAccess:
    def __init__(self, channels: ChannelDirectory, notes: NoteAccess):
        self.channels = channels
        self.notes = notes

    def channel_ids(self, principal: Principal) -> list[str]:
        return self.channels.channel_ids(principal.id)

    def can_open_note(self, principal: Principal, note_id: str, write: bool = False,
                      at: int = 0) -> bool:
        """Owner or admin; anyone else as the note's grants say (`features.notes` needed, as
        Open WebUI checks it). A missing or deleted note opens to no one. `at`: decided once the
        read model shows that log position."""
        return self.notes.can_open(principal, note_id, write, at)

    def can_open_document(self, principal: Principal, document_id: str,
                          write: bool = False) -> bool:
        """Only note documents exist; any other id is refused (Open WebUI checks notes only)."""
        note_id = note_id_of(document_id)
        return note_id is not None and self.can_open_note(principal, note_id, write)
