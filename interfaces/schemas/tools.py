"""Request/response models of /api/v1/tools/* (Open WebUI 0.12.4 OpenAPI component names)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from application.tools import ToolInput
from interfaces.schemas.models import (
    AccessForm,
    CommitMessage,
    UserResponse,
    access_view,
    json_bytes,
    no_nul,
)

ID_MAX_CHARS = 255  # not in reference (it must be a Python identifier)
NAME_MAX_CHARS = 1_000  # not in reference
CONTENT_MAX_CHARS = 1024 * 1024  # tool source (not in reference)
META_MAX_BYTES = 256 * 1024  # not in reference
VALVES_MAX_BYTES = 256 * 1024  # valve values of one request (not in reference)

ToolId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_CHARS),
                   AfterValidator(no_nul)]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX_CHARS), AfterValidator(no_nul)]
Content = Annotated[str, StringConstraints(max_length=CONTENT_MAX_CHARS)]
Meta = Annotated[dict[str, Any], json_bytes(META_MAX_BYTES)]
Valves = Annotated[dict[str, Any], json_bytes(VALVES_MAX_BYTES)]


class ToolForm(AccessForm):
    model_config = ConfigDict(extra="ignore")

    id: ToolId
    name: Name
    content: Content
    meta: Meta = Field(default_factory=dict)
    commit_message: CommitMessage | None = None  # for the tool's history

    def to_input(self, update: bool = False) -> ToolInput:
        sent, access = self.access(grants_count=not update)
        # The server reads these from the source itself; a client's copy is ignored.
        meta = {k: v for k, v in self.meta.items() if k not in ("manifest", "has_user_valves")}
        return ToolInput(id=self.id, name=self.name, content=self.content, meta=meta,
                         access_control=access, access_sent=sent,
                         commit_message=self.commit_message or None)


class ToolResponse(BaseModel):
    id: str
    user_id: str | None = None
    name: str
    meta: dict[str, Any]
    access_control: dict[str, Any] | None = None
    access_grants: list[dict[str, Any]] = Field(default_factory=list)
    updated_at: int
    created_at: int


class ToolUserResponse(ToolResponse):
    user: UserResponse | None = None
    has_user_valves: bool = False


class ToolModel(ToolResponse):
    content: str | None = None
    specs: list[dict[str, Any]] = Field(default_factory=list)


class ToolAccessResponse(ToolModel):
    user: UserResponse | None = None
    write_access: bool | None = False


def tool_view(row: dict[str, Any]) -> dict[str, Any]:
    return access_view("tool", row, row["updated_at"])
