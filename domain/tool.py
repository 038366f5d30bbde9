"""The Tool aggregate (an Open WebUI Python tool) and each user's valves for a tool.

A tool's source is stored as written; what the server knows about it (manifest, function
specs, Valves / UserValves JSON schemas) was read from it without running it in the server
process and travels in the same events, so replays never need the code again.

`ToolUserValves` is a second, small aggregate on purpose: a user's valves may hold their own
secrets (API keys), and the log encrypts an aggregate's events with its owner's key. Kept on
the Tool they would be encrypted with the tool author's key instead.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, clean_json, epoch

UPDATABLE = ("name", "content", "meta", "specs", "valves_schema", "user_valves_schema",
             "access_control")


class ToolError(ValueError):
    """A tool command broke an invariant."""


class ToolDeletedError(ToolError, DeletedError):
    """A command was sent to a deleted tool."""


def tool_uuid(tool_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"chronicle:tool:{tool_id}")


def user_valves_uuid(tool_id: str, user_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"chronicle:tool-user-valves:{tool_id}:{user_id}")


class Tool(SoftDeleted, Aggregate):
    deleted_error = ToolDeletedError
    deleted_message = "tool {0.tool_id} is deleted"

    @staticmethod
    def create_id(tool_id: str) -> uuid.UUID:
        return tool_uuid(tool_id)

    @event("Created")
    def __init__(self, tool_id: str, user_id: str, name: str, content: str,
                 meta: dict[str, Any], specs: list[dict[str, Any]],
                 valves_schema: dict[str, Any] | None, user_valves_schema: dict[str, Any] | None,
                 access_control: dict[str, Any] | None, commit_message: str | None = None):
        self.tool_id = tool_id
        self.user_id = user_id
        self.name = name
        self.content = content
        self.meta = meta
        self.specs = specs
        self.valves_schema = valves_schema
        self.user_valves_schema = user_valves_schema
        self.access_control = access_control
        self.valves: dict[str, Any] = {}
        self.deleted = False
        self.created_at = epoch(self.created_on)

    @property
    def owner_id(self) -> str:
        """The author's key encrypts the tool's events: its code and its (admin) valves."""
        return self.user_id

    @property
    def updated_at(self) -> int:
        return epoch(self.modified_on)

    def update(self, *, commit_message: str | None = None, **changes: Any) -> bool:
        """Record only what differs (with the client's commit message, for the history);
        True when something changed."""
        self._live()
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            raise ToolError(f"unknown tool fields {sorted(unknown)}")
        cleaned = {k: clean_json(v) for k, v in changes.items()}
        changed = {k: v for k, v in cleaned.items() if getattr(self, k) != v}
        if changed:
            self._updated(changed, commit_message)
        return bool(changed)

    @event("Updated")
    def _updated(self, changes: dict[str, Any], commit_message: str | None = None) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def set_valves(self, valves: dict[str, Any]) -> None:
        self._live()
        if valves != self.valves:
            self._valves_set(clean_json(valves))

    @event("ValvesSet")
    def _valves_set(self, valves: dict[str, Any]) -> None:
        self.valves = valves

    def delete(self) -> None:
        self._live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True

    def recreate(self, user_id: str, fields: dict[str, Any],
                 commit_message: str | None = None) -> None:
        """A deleted id taken again: a new tool (new author, no valves) on the old stream."""
        if not self.deleted:
            raise ToolError(f"tool {self.tool_id} exists")
        self.trigger_event(self.Recreated, tool_id=self.tool_id, user_id=user_id,
                           fields=clean_json(fields), commit_message=commit_message)

    class Recreated(Aggregate.Event):
        tool_id: str
        user_id: str
        fields: dict[str, Any]
        commit_message: str | None = None  # absent from events recorded before it existed

        def apply(self, aggregate: Any) -> None:
            aggregate.user_id = self.user_id
            for key, value in self.fields.items():
                setattr(aggregate, key, value)
            aggregate.valves = {}
            aggregate.deleted = False
            aggregate.created_at = epoch(self.timestamp)


class ToolUserValves(Aggregate):
    """One user's valve values for one tool; encrypted with that user's key."""

    @staticmethod
    def create_id(tool_id: str, user_id: str) -> uuid.UUID:
        return user_valves_uuid(tool_id, user_id)

    @event("Created")
    def __init__(self, tool_id: str, user_id: str, valves: dict[str, Any]):
        self.tool_id = tool_id
        self.user_id = user_id
        self.valves = clean_json(valves)

    @property
    def owner_id(self) -> str:
        return self.user_id

    def set(self, valves: dict[str, Any]) -> None:
        if valves != self.valves:
            self._set(clean_json(valves))

    @event("Set")
    def _set(self, valves: dict[str, Any]) -> None:
        self.valves = valves
