"""The Note aggregate: a user's note (title, editor content, meta), its grants and who pinned it.

A note's id is its aggregate id (a UUID, as Open WebUI's note ids). Its content arrives two ways:
an edit through the REST API (`update`) and the collaborative editor's debounced snapshot
(`save_content`); the Yjs updates themselves never reach the log (infrastructure/ydoc_store.py).
Either records only the top-level keys that changed, merged over the old ones as Open WebUI
merges them.

Pins are per user (Open WebUI's `pinned_note` table) and live here as events of the note.
Timestamps are nanoseconds since 1970, as Open WebUI gives notes (`time.time_ns()`); `updated_at`
moves only when the title, content or meta change, as there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, clean_json


class NoteError(ValueError):
    """A note command broke an invariant."""


class NoteDeletedError(NoteError, DeletedError):
    """A command was sent to a deleted note."""


def epoch_ns(moment: datetime | None) -> int:
    """Nanoseconds since 1970 of an event's datetime (microsecond precision, deterministic)."""
    assert moment is not None
    return round(moment.timestamp() * 1_000_000) * 1000


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The entries of `new` that differ from `old` (what a merge of `new` over `old` changes)."""
    return {k: v for k, v in new.items() if k not in old or old[k] != v}


class Note(SoftDeleted, Aggregate):
    deleted_error = NoteDeletedError
    deleted_message = "note {0.id} is deleted"

    @event("Created")
    def __init__(self, user_id: str, title: str, data: dict[str, Any], meta: dict[str, Any],
                 access_control: dict[str, Any] | None):
        self.user_id = user_id
        self.title = title
        self.data = data
        self.meta = meta
        self.access_control = access_control
        self.pinned_by: list[str] = []
        self.deleted = False
        self.created_at = epoch_ns(self.created_on)
        self.updated_at = self.created_at

    @property
    def note_id(self) -> str:
        return str(self.id)

    @property
    def owner_id(self) -> str:
        """The author's key encrypts the note's events (its text, and pins others made)."""
        return self.user_id

    # -- content ------------------------------------------------------------------------------
    def update(self, title: str | None = None, data: dict[str, Any] | None = None,
               meta: dict[str, Any] | None = None) -> bool:
        """Merge an edit over the note (absent parts stay); True when something changed."""
        self._live()
        changes: dict[str, Any] = {}
        if title is not None and clean_json(title) != self.title:
            changes["title"] = clean_json(title)
        for key, value in (("data", data), ("meta", meta)):
            if value is not None:
                delta = changed_keys(getattr(self, key), clean_json(value))
                if delta:
                    changes[key] = delta
        if changes:
            self.trigger_event(self.Updated, changes=changes)
        return bool(changes)

    def save_content(self, data: dict[str, Any]) -> bool:
        """The collaborative editor's snapshot (coalesced by the socket layer); True if new."""
        self._live()
        delta = changed_keys(self.data, clean_json(data))
        if delta:
            self.trigger_event(self.ContentSaved, data=delta)
        return bool(delta)

    class Updated(Aggregate.Event):
        changes: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            for key, value in self.changes.items():
                if key == "title":
                    aggregate.title = value
                else:
                    setattr(aggregate, key, {**getattr(aggregate, key), **value})
            aggregate.updated_at = epoch_ns(self.timestamp)

    class ContentSaved(Aggregate.Event):
        data: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.data = {**aggregate.data, **self.data}
            aggregate.updated_at = epoch_ns(self.timestamp)

    # -- access and pins ----------------------------------------------------------------------
    def set_access(self, access_control: dict[str, Any]) -> bool:
        self._live()
        if access_control == self.access_control:
            return False
        self._access_changed(access_control)
        return True

    @event("AccessChanged")
    def _access_changed(self, access_control: dict[str, Any]) -> None:
        self.access_control = access_control

    def toggle_pin(self, user_id: str) -> bool:
        """Pin for `user_id` if they had not, else unpin; True when it is now pinned."""
        self._live()
        if user_id in self.pinned_by:
            self._unpinned(user_id)
            return False
        self._pinned(user_id)
        return True

    @event("Pinned")
    def _pinned(self, user_id: str) -> None:
        self.pinned_by = [*self.pinned_by, user_id]

    @event("Unpinned")
    def _unpinned(self, user_id: str) -> None:
        self.pinned_by = [u for u in self.pinned_by if u != user_id]

    def delete(self) -> None:
        self._live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True
