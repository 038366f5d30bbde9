"""The Prompt aggregate: a slash-command prompt template whose history is its own event stream.

A revision (the first version, or an edit that changes the name, command, content or tags) is
an event carrying the whole snapshot, its author and the commit message: the prompt's history
is the list of those events, each named by its aggregate version. The production revision is
the one the prompt shows; a revision saved as not production only adds to the history (and,
as in Open WebUI 0.12.4, still moves the command). Other changes (name/command/tags from the
metadata form, data or meta alone, activation, access) are events that add no revision.

Deleting a revision hides it from the history; the event stays in the log for auditors.
Access control is an `access_control` dict of grants (`domain/access.py` states the rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, clean_json, epoch

SNAPSHOT = ("name", "command", "content", "data", "meta", "tags")
REVISING = ("name", "command", "content", "tags")  # a change to any of these is a new revision
AMENDABLE = ("name", "command", "data", "meta", "tags")  # changed without a revision
RESTORED = ("name", "content", "data", "meta", "tags")  # what a production switch brings back


class PromptError(ValueError):
    """A prompt command broke an invariant."""


class PromptDeletedError(PromptError, DeletedError):
    """A command was sent to a deleted prompt."""


class Prompt(SoftDeleted, Aggregate):
    deleted_error = PromptDeletedError
    deleted_message = "prompt {0.id} is deleted"

    @event("Created")
    def __init__(self, user_id: str, command: str, name: str, content: str,
                 data: dict[str, Any], meta: dict[str, Any], tags: list[str],
                 access_control: dict[str, Any] | None, commit_message: str | None):
        self.user_id = user_id
        self.command = command
        self.name = name
        self.content = content
        self.data = data
        self.meta = meta
        self.tags = tags
        self.access_control = access_control
        self.is_active = True
        self.deleted = False
        self.production = 1  # the version of the production revision
        self.hidden: list[int] = []  # revisions deleted from the history
        self.created_at = epoch(self.created_on)

    @property
    def owner_id(self) -> str:
        """The creator's key encrypts the prompt's events (its text and every revision)."""
        return self.user_id

    @property
    def updated_at(self) -> int:
        return epoch(self.modified_on)

    def snapshot(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SNAPSHOT}

    # -- revisions ------------------------------------------------------------------------
    def revise(self, author: str, fields: dict[str, Any], commit_message: str | None,
               production: bool = True) -> bool:
        """Save an edit: a new revision when the name, command, content or tags change (the
        production one unless `production` is False), else only data and meta are amended.
        True when anything was recorded."""
        self._live()
        fields = clean_json({k: fields[k] for k in SNAPSHOT if k in fields})
        if any(k in fields and fields[k] != getattr(self, k) for k in REVISING):
            snapshot = {**self.snapshot(), **fields}
            self._revised(author, snapshot, commit_message, production)
            return True
        if production:
            return self.amend({k: v for k, v in fields.items() if k in ("data", "meta")})
        return False

    @event("Revised")
    def _revised(self, author: str, snapshot: dict[str, Any], commit_message: str | None,
                 production: bool) -> None:
        self.command = snapshot["command"]
        if production:
            for key in SNAPSHOT:
                setattr(self, key, snapshot[key])
            self.production = self.version + 1  # this event's version (applied before it is set)

    def amend(self, changes: dict[str, Any]) -> bool:
        """Change metadata without a revision (0.12.4's update/meta); True when it changed."""
        self._live()
        unknown = set(changes) - set(AMENDABLE)
        if unknown:
            raise PromptError(f"unknown prompt fields {sorted(unknown)}")
        cleaned = clean_json(changes)
        changed = {k: v for k, v in cleaned.items() if getattr(self, k) != v}
        if changed:
            self._amended(changed)
        return bool(changed)

    @event("Amended")
    def _amended(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def set_production(self, version: int, snapshot: dict[str, Any]) -> None:
        """Make an earlier revision (whose snapshot the caller read from the stream) the one
        shown; its command and the access grants stay as they are now, as in 0.12.4."""
        self._live()
        if version in self.hidden or not 1 <= version <= self.version:
            raise PromptError(f"no revision {version}")
        self._production_set(version, clean_json({k: snapshot.get(k) for k in RESTORED}))

    @event("ProductionSet")
    def _production_set(self, version: int, restored: dict[str, Any]) -> None:
        for key, value in restored.items():
            setattr(self, key, value)
        self.production = version

    def hide(self, version: int) -> None:
        """Delete a revision from the history (never the production one)."""
        self._live()
        if version == self.production:
            raise PromptError("Cannot delete the active production version")
        if version not in self.hidden:
            self._hidden(version)

    @event("RevisionHidden")
    def _hidden(self, version: int) -> None:
        self.hidden = [*self.hidden, version]

    # -- the rest -------------------------------------------------------------------------
    def share(self, access_control: dict[str, Any] | None) -> bool:
        self._live()
        cleaned = clean_json(access_control)
        if cleaned == self.access_control:
            return False
        self._shared(cleaned)
        return True

    @event("Shared")
    def _shared(self, access_control: dict[str, Any] | None) -> None:
        self.access_control = access_control

    def toggle(self) -> None:
        self._live()
        self._toggled(not self.is_active)

    @event("Toggled")
    def _toggled(self, is_active: bool) -> None:
        self.is_active = is_active

    def delete(self) -> None:
        self._live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True


# -- the history: a fold over the prompt's own events --------------------------------------------
@dataclass(frozen=True)
class Revision:
    """One version of the history: the aggregate version of the event that recorded it."""

    version: int
    parent: int | None  # the previous revision still in the history
    author: str
    commit_message: str | None
    created_at: int
    snapshot: dict[str, Any]  # SNAPSHOT fields and the access control in force then


def history(events: Iterable[Any]) -> list[Revision]:
    """The revisions a prompt's events record, oldest first, without the deleted ones."""
    found: list[Revision] = []
    access: dict[str, Any] | None = None
    hidden: set[int] = set()
    for e in events:
        kind = type(e).__name__ if isinstance(e, Prompt.Event) else ""
        if kind == "Shared":
            access = e.access_control
        elif kind == "RevisionHidden":
            hidden.add(e.version)
        elif kind in ("Created", "Revised"):
            if kind == "Created":
                access = e.access_control
            snapshot = {k: getattr(e, k) for k in SNAPSHOT} if kind == "Created" else e.snapshot
            author = e.user_id if kind == "Created" else e.author
            found.append(Revision(e.originator_version, None, author, e.commit_message,
                                  epoch(e.timestamp), {**snapshot, "access_control": access}))
    kept = [r for r in found if r.version not in hidden]
    # A deleted revision's successor now follows its predecessor (0.12.4 re-parents it).
    return [replace(r, parent=kept[i - 1].version if i else None) for i, r in enumerate(kept)]
