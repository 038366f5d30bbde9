"""Who may join which realtime room: notes (and their Yjs documents) and channels.

The socket layer asks these questions; the answers come from the write model (a note's owner) and
from ports other features provide (channel membership, note access grants).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from application.auth import Principal
from application.ports import EventStorePort

NOTE_PREFIX = "note:"


class ChannelDirectory(Protocol):
    def channel_ids(self, user_id: str) -> list[str]: ...

    def mark_read(self, channel_id: str, user_id: str) -> None: ...


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
    def __init__(self, store: EventStorePort, channels: ChannelDirectory):
        self.store = store
        self.channels = channels

    def channel_ids(self, principal: Principal) -> list[str]:
        return self.channels.channel_ids(principal.id)

    def can_open_note(self, principal: Principal, note_id: str, write: bool = False) -> bool:
        """Owner or admin; anyone else only if the note grants it (`has_access(user, perm)`).

        A note is any aggregate with `owner_id` stored under that id; a missing or deleted note
        opens to no one.
        """
        note = self._load(note_id)
        if note is None or getattr(note, "deleted", False):
            return False
        if principal.is_admin or str(getattr(note, "owner_id", "")) == principal.id:
            return True
        grant = getattr(note, "has_access", None)
        return bool(grant and grant(principal.id, "write" if write else "read"))

    def can_open_document(self, principal: Principal, document_id: str,
                          write: bool = False) -> bool:
        """Only note documents exist; any other id is refused (Open WebUI checks notes only)."""
        note_id = note_id_of(document_id)
        return note_id is not None and self.can_open_note(principal, note_id, write)

    def _load(self, note_id: str) -> Any:
        try:
            return self.store.get(uuid.UUID(note_id))
        except ValueError:
            return None
