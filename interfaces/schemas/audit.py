"""Shapes of the audit API (Chronicle's own: Open WebUI has no audit endpoints)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from application.audit import Kind, aggregate_data
from interfaces.schemas.chats import chat_response


class AuditEvent(BaseModel):
    version: int
    type: str = Field(description="event name, e.g. MessageAdded")
    timestamp: float | None = Field(description="epoch seconds when it was recorded")
    actor_id: str | None = Field(description="the user who caused it (None: the system)")
    correlation_id: str | None = Field(description="the request or job that recorded it")
    position: int | None = Field(description="log position (None until the audit index has it)")
    erased: bool = Field(description="true when its owner was erased: only metadata remains")
    data: dict[str, Any] | None = Field(description="what the event says; secrets redacted")


class AuditEventsPage(BaseModel):
    aggregate_id: str
    kind: Kind
    id: str
    total: int = Field(description="number of events the aggregate has (its current version)")
    page: int
    limit: int
    items: list[AuditEvent]


class AuditState(BaseModel):
    aggregate_id: str
    kind: Kind
    id: str
    version: int
    timestamp: float | None
    exists: bool = Field(description="false when it did not exist at that version (erased)")
    state: dict[str, Any] | None


class AuditDiff(BaseModel):
    aggregate_id: str
    kind: Kind
    id: str
    from_version: int
    to_version: int
    events: list[AuditEvent]
    patch: list[dict[str, Any]] = Field(description="RFC 6902 JSON Patch from one state to the other")


class AuditLogEntry(BaseModel):
    position: int
    aggregate_id: str
    kind: str
    version: int
    type: str
    actor_id: str | None
    correlation_id: str | None
    at: float | None


class AuditLogPage(BaseModel):
    items: list[AuditLogEntry]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


class SignInEntry(AuditLogEntry):
    data: dict[str, Any] | None = Field(
        description="user_id, email, reason (failures), client ip and user agent")


class SignInPage(BaseModel):
    items: list[SignInEntry]
    next_cursor: int | None


class Auditors(BaseModel):
    auditors: list[str]


Order = Literal["asc", "desc"]


def state_view(kind: Kind, aggregate: Any) -> dict[str, Any]:
    """An aggregate as its own API shows it (a chat exactly as GET /chats/{id} would have)."""
    if kind is Kind.chat:
        return chat_response(aggregate, copy=False)  # loaded for this request alone
    return aggregate_data(aggregate)
