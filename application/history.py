"""An item's version history read from its own event stream (models and tools; prompts fold
their richer events in domain/prompt.py).

A version is an event that changed what the item's snapshot shows (its name, text, settings):
its aggregate version is its id, its author the actor the log recorded, its commit message the
one the client sent with the command. A version's snapshot is the aggregate replayed to that
version, and two versions differ by the audit's JSON Patch (`application/json_diff.py`): the
same time travel and the same diff the audit routes use, under the item's own access rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from application.json_diff import json_patch
from application.ports import EventStorePort
from domain.base import epoch

PAGE_SIZE = 20  # the reference's history page


class VersionedStore(EventStorePort, Protocol):
    """The event store, and a stream's events in version order."""

    def history(self, aggregate_id: UUID, after: int = 0, upto: int | None = None,
                limit: int | None = None) -> list[Any]: ...


@dataclass(frozen=True)
class Version:
    version: int
    parent: int | None  # the previous version in the history
    author: str
    commit_message: str | None
    created_at: int


def versions(store: VersionedStore, aggregate_id: UUID, upto: int,
             is_version: Callable[[Any], bool]) -> list[Version]:
    """The item's versions, oldest first: the events `is_version` admits, since the item was
    last created (a deleted id taken again starts a new item on the old stream)."""
    found: list[Version] = []
    for event in store.history(aggregate_id, upto=upto):
        if type(event).__name__ == "Recreated":
            found = []
        if is_version(event):
            meta = getattr(event, "_meta", None) or {}
            found.append(Version(event.originator_version, found[-1].version if found else None,
                                 str(meta.get("a") or ""), getattr(event, "commit_message", None),
                                 epoch(event.timestamp)))
    return found


def page_of(found: list[Version], page: int, size: int = PAGE_SIZE) -> list[Version]:
    """A 1-based page of versions, newest first (a page below 1 is the first)."""
    start = (max(1, page) - 1) * size
    return list(reversed(found))[start:start + size]


def find(found: list[Version], history_id: str) -> Version | None:
    version = int(history_id) if history_id.isdigit() and len(history_id) < 19 else 0
    return next((v for v in found if v.version == version), None)


class ItemHistory:
    """The history queries of one kind of item; its service checks who may ask first."""

    def __init__(self, store: VersionedStore, is_version: Callable[[Any], bool],
                 missing: Callable[[], Exception]):
        self.store = store
        self.is_version = is_version
        self.missing = missing  # the answer to an unknown version

    def _all(self, aggregate: Any) -> list[Version]:
        return versions(self.store, aggregate.id, aggregate.version, self.is_version)

    def page(self, aggregate: Any, page: int) -> list[Version]:
        return page_of(self._all(aggregate), page)

    def entry(self, aggregate: Any, history_id: str) -> tuple[Version, Any]:
        """A version and the item replayed to it (the audit's time travel)."""
        found = find(self._all(aggregate), history_id)
        if found is None:
            raise self.missing()
        return found, self.store.get(aggregate.id, version=found.version)

    def diff(self, aggregate: Any, from_id: str, to_id: str,
             view: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """Both snapshots (as `view` shows the replayed item) and the audit's JSON Patch."""
        before, old = self.entry(aggregate, from_id)
        after, new = self.entry(aggregate, to_id)
        old_view, new_view = view(old), view(new)
        return {"from": before, "to": after, "from_snapshot": old_view,
                "to_snapshot": new_view, "patch": json_patch(old_view, new_view)}


def changed_fields(fields: tuple[str, ...]) -> Callable[[Any], bool]:
    """A version test for items whose events are Created, Recreated and Updated(changes)."""

    def is_version(event: Any) -> bool:
        kind = type(event).__name__
        if kind in ("Created", "Recreated"):
            return True
        return kind == "Updated" and bool(set(getattr(event, "changes", {})) & set(fields))

    return is_version
