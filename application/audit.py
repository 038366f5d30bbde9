"""Auditors' use cases: an aggregate's history, its state at any version or time, diffs, log queries.

Per-aggregate history is read from the event store itself (the truth, never lagging); log-wide
queries by actor, kind or time go through the audit index projection. Admins audit; so do users an
admin granted the audit permission (kept in the system config as ``AUDITORS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from application.auth import Principal
from application.commands import Outcome
from application.config import ConfigService
from application.errors import BadRequest, NotFound, Unauthorized
from application.json_diff import json_patch
from application.messages import Detail
from domain.file import file_uuid
from domain.knowledge import knowledge_uuid
from domain.model import model_uuid
from domain.system_config import CONFIG_ID
from domain.tool import tool_uuid

MAX_PAGE = 500
REDACTED = "[redacted]"
# Secrets never leave the log, not even to auditors: hashes, stamps, tokens, keys.
_SECRET = re.compile(r"password|_hash$|^hash$|secret|token|stamp|api_key", re.IGNORECASE)
_EVENT_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "_meta"}


class AuditIndex(Protocol):
    def positions(self, aggregate_id: str, first: int, last: int) -> dict[int, int]: ...

    def version_at(self, aggregate_id: str, at: float) -> int | None: ...

    def search(self, *, actor: str | None = None, kind: str | None = None,
               event_type: str | None = None, since: float | None = None,
               until: float | None = None, aggregate_id: str | None = None,
               cursor: int | None = None, descending: bool = True,
               limit: int = 50) -> list[dict[str, Any]]: ...


class HistoryStore(Protocol):
    def get(self, aggregate_id: UUID, version: int | None = None) -> Any: ...

    def history(self, aggregate_id: UUID, after: int = 0, upto: int | None = None,
                limit: int | None = None) -> list[Any]: ...

    def last_version(self, aggregate_id: UUID) -> int: ...


class Kind(StrEnum):
    chat = "chat"
    user = "user"
    model = "model"
    knowledge = "knowledge"
    file = "file"
    tool = "tool"
    folder = "folder"
    config = "config"
    auth = "auth"
    prompt = "prompt"


def _plain_uuid(value: str) -> UUID:
    return UUID(value)


# External id (as the REST API names it) → aggregate id.
RESOLVERS: dict[Kind, Callable[[str], UUID]] = {
    Kind.chat: _plain_uuid, Kind.user: _plain_uuid, Kind.folder: _plain_uuid,
    Kind.auth: _plain_uuid, Kind.model: model_uuid, Kind.tool: tool_uuid,
    Kind.knowledge: knowledge_uuid, Kind.file: file_uuid, Kind.config: lambda _: CONFIG_ID,
    Kind.prompt: _plain_uuid,
}


@dataclass(frozen=True)
class AsOf:
    """An aggregate as it was at `version` (recorded at `timestamp`)."""

    aggregate_id: UUID
    version: int
    timestamp: float | None
    aggregate: Any


# Aggregate class → the kind auditors name it by (the REST resource it backs).
KINDS = {
    "Chat": "chat", "User": "user", "Model": "model", "KnowledgeBase": "knowledge",
    "File": "file", "Tool": "tool", "ToolUserValves": "tool_valves", "Folder": "folder",
    "SystemConfig": "config", "AccessRecord": "auth", "EmailClaim": "email_claim",
}


def describe(topic: str) -> tuple[str, str]:
    """(kind, event type) of a topic such as ``domain.chat:Chat.MessageAdded``."""
    qualname = topic.rpartition(":")[2]
    owner, _, name = qualname.rpartition(".")
    aggregate = owner.split(".")[0] if owner else qualname
    return KINDS.get(aggregate, aggregate.lower()), name or qualname


def topic_of(event: Any) -> str:
    """An event's topic; a tombstone (an erased owner's event) carries the original's."""
    return str(event.topic) if _is_tombstone(event) else get_topic(type(event))


def _is_tombstone(event: Any) -> bool:
    return type(event).__name__ == "Erased"


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): (REDACTED if _SECRET.search(str(k)) and v else jsonable(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, UUID | bytes):
        return str(value) if isinstance(value, UUID) else value.hex()
    return value


def event_data(event: Any) -> dict[str, Any] | None:
    """What an event says, secrets redacted; None for an erased owner's event."""
    if _is_tombstone(event):
        return None
    return jsonable({k: v for k, v in vars(event).items() if k not in _EVENT_FIELDS})


def aggregate_data(aggregate: Any) -> dict[str, Any]:
    """A generic view of an aggregate: its public attributes, secrets redacted."""
    public = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    return {"id": str(aggregate.id), "version": aggregate.version, **jsonable(public)}


class AuditService:
    def __init__(self, store: HistoryStore, index: AuditIndex, config: ConfigService):
        self.store = store
        self.index = index
        self.config = config

    # -- who may audit ----------------------------------------------------------------------
    def auditors(self) -> list[str]:
        return [str(u) for u in (self.config.get("AUDITORS") or [])]

    def require(self, principal: Principal) -> None:
        if not (principal.is_admin or principal.id in self.auditors()):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)

    def set_auditor(self, principal: Principal, user_id: str, granted: bool) -> Outcome[list[str]]:
        if not principal.is_admin:
            raise Unauthorized(Detail.ACCESS_PROHIBITED)
        if granted and not self._is_user(user_id):
            raise NotFound(Detail.USER_NOT_FOUND)
        current = [u for u in self.auditors() if u != user_id]
        outcome = self.config.update({"AUDITORS": current + [user_id] if granted else current})
        return Outcome(self.auditors(), outcome.position)

    def _is_user(self, user_id: str) -> bool:
        try:
            user = self.store.get(UUID(user_id))
        except ValueError:
            return False
        return user is not None and type(user).__name__ == "User" and not user.deleted

    # -- one aggregate ----------------------------------------------------------------------
    def resolve(self, kind: Kind, external_id: str) -> UUID:
        """The aggregate behind a REST id, checked to be of that kind (else 404)."""
        try:
            aggregate_id = RESOLVERS[kind](external_id)
        except (ValueError, TypeError, AttributeError):
            raise NotFound(Detail.NOT_FOUND) from None
        first = self.store.history(aggregate_id, limit=1)
        if not first or describe(topic_of(first[0]))[0] != kind.value:
            raise NotFound(Detail.NOT_FOUND)
        return aggregate_id

    def events(self, principal: Principal, kind: Kind, external_id: str, page: int,
               limit: int) -> dict[str, Any]:
        self.require(principal)
        aggregate_id = self.resolve(kind, external_id)
        after = (page - 1) * limit
        events = self.store.history(aggregate_id, after=after, upto=after + limit)
        positions = self.index.positions(str(aggregate_id), after + 1, after + limit)
        return {"aggregate_id": str(aggregate_id), "kind": kind.value, "id": external_id,
                "total": self.store.last_version(aggregate_id), "page": page, "limit": limit,
                "items": [self.describe(e, positions.get(e.originator_version)) for e in events]}

    @staticmethod
    def describe(event: Any, position: int | None = None) -> dict[str, Any]:
        meta = getattr(event, "_meta", None) or {}
        data = event_data(event)
        return {"version": event.originator_version, "type": describe(topic_of(event))[1],
                "timestamp": meta.get("t"), "actor_id": meta.get("a"),
                "correlation_id": meta.get("c"), "position": position,
                "erased": data is None, "data": data}

    def state(self, principal: Principal, kind: Kind, external_id: str,
              version: int | None = None, at: float | None = None) -> AsOf:
        self.require(principal)
        aggregate_id = self.resolve(kind, external_id)
        return self._as_of(aggregate_id, self._version(aggregate_id, version, at))

    def latest(self, principal: Principal, kind: Kind, external_id: str) -> int:
        self.require(principal)
        return self.store.last_version(self.resolve(kind, external_id))

    def diff(self, principal: Principal, kind: Kind, external_id: str, from_version: int,
             to_version: int, view: Callable[[Any], Any]) -> dict[str, Any]:
        self.require(principal)
        aggregate_id = self.resolve(kind, external_id)
        if from_version > to_version:
            raise BadRequest("from_version must not be greater than to_version")
        before = self._as_of(aggregate_id, self._version(aggregate_id, from_version, None))
        after = self._as_of(aggregate_id, self._version(aggregate_id, to_version, None))
        between = self.store.history(aggregate_id, after=before.version, upto=after.version)
        return {"aggregate_id": str(aggregate_id), "kind": kind.value, "id": external_id,
                "from_version": before.version, "to_version": after.version,
                "events": [self.describe(e) for e in between],
                "patch": json_patch(_view(view, before), _view(view, after))}

    def _version(self, aggregate_id: UUID, version: int | None, at: float | None) -> int:
        last = self.store.last_version(aggregate_id)
        if version is not None and at is not None:
            raise BadRequest("give either version or at, not both")
        if at is not None:
            found = self.index.version_at(str(aggregate_id), at)
            if found is None:
                raise NotFound(Detail.NOT_FOUND)  # it did not exist yet
            return found
        if version is None:
            return last
        if not 1 <= version <= last:
            raise BadRequest(f"version must be between 1 and {last}")
        return version

    def _as_of(self, aggregate_id: UUID, version: int) -> AsOf:
        aggregate = self.store.get(aggregate_id, version=version)
        if aggregate is not None:  # its last event's time is the aggregate's modified_on
            return AsOf(aggregate_id, version, aggregate.modified_on.timestamp(), aggregate)
        events = self.store.history(aggregate_id, after=version - 1, upto=version)
        meta = (getattr(events[0], "_meta", None) or {}) if events else {}
        return AsOf(aggregate_id, version, meta.get("t"), aggregate)  # erased: header time

    # -- the whole log ----------------------------------------------------------------------
    def search(self, principal: Principal, **filters: Any) -> dict[str, Any]:
        self.require(principal)
        limit = filters.pop("limit")
        rows = self.index.search(limit=limit + 1, **filters)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"items": rows, "next_cursor": rows[-1]["position"] if more else None}

    def signins(self, principal: Principal, **filters: Any) -> dict[str, Any]:
        """The sign-in stream, each record with what it says (who, from where, why it failed)."""
        page = self.search(principal, kind=Kind.auth.value, **filters)
        for row in page["items"]:
            events = self.store.history(UUID(row["aggregate_id"]), limit=1)
            row["data"] = event_data(events[0]) if events else None
        return page


def _view(view: Callable[[Any], Any], as_of: AsOf) -> Any:
    """`view` gives JSON data with secrets already left out (see interfaces.schemas.audit)."""
    return view(as_of.aggregate) if as_of.aggregate is not None else None
