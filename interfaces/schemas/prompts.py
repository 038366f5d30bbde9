"""Request/response models of /api/v1/prompts/* (Open WebUI 0.12.4 OpenAPI component names).

Grants travel as in the models schemas (`access_grants`, or the seeds' `access_control`).
A command is letters, digits, `_` and `-` (the web app's own rule; the reference's server takes
anything): a leading "/" is dropped, as the app drops it. Inputs are bounded (422).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from application.prompts import PromptInput
from domain.prompt import Revision
from interfaces.schemas.models import (
    AccessForm,
    CommitMessage,
    UserResponse,
    access_grants,
    access_view,
    json_bytes,
    no_nul,
)

COMMAND_MAX_CHARS = 255  # not in reference
NAME_MAX_CHARS = 1_000  # not in reference
CONTENT_MAX_CHARS = 1_000_000  # not in reference: every revision carries the whole text
JSON_MAX_BYTES = 1024 * 1024  # data and meta (not in reference)
TAGS_MAX = 100  # not in reference
TAG_MAX_CHARS = 255  # not in reference
ID_MAX_CHARS = 64  # prompt and history ids are UUIDs and version numbers


def _unslashed(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("/") else value


Command = Annotated[str, BeforeValidator(_unslashed),
                    StringConstraints(min_length=1, max_length=COMMAND_MAX_CHARS,
                                      pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX_CHARS), AfterValidator(no_nul)]
Content = Annotated[str, StringConstraints(max_length=CONTENT_MAX_CHARS), AfterValidator(no_nul)]
Tag = Annotated[str, StringConstraints(max_length=TAG_MAX_CHARS), AfterValidator(no_nul)]
JsonObject = Annotated[dict[str, Any], json_bytes(JSON_MAX_BYTES)]
Tags = Annotated[list[Tag], Field(max_length=TAGS_MAX)]


# -- requests ---------------------------------------------------------------------------------
class PromptForm(AccessForm):
    model_config = ConfigDict(extra="ignore")

    command: Command
    name: Name
    content: Content
    data: JsonObject | None = None
    meta: JsonObject | None = None
    tags: Tags | None = None
    version_id: str | None = None  # sent by the app, not used: the production is the saved one
    commit_message: CommitMessage | None = None
    is_production: bool | None = True

    def to_input(self, update: bool = False) -> PromptInput:
        sent, access = self.access(grants_count=not update)
        return PromptInput(command=self.command, name=self.name, content=self.content,
                           data=self.data, meta=self.meta,
                           tags=None if self.tags is None else list(dict.fromkeys(self.tags)),
                           access_control=access, access_sent=sent,
                           commit_message=self.commit_message or None,
                           production=self.is_production is not False)


class PromptMetadataForm(BaseModel):
    name: Name
    command: Command
    tags: Tags | None = None


class PromptVersionUpdateForm(BaseModel):
    version_id: Annotated[str, StringConstraints(max_length=ID_MAX_CHARS)]


# -- responses --------------------------------------------------------------------------------
class PromptModel(BaseModel):
    id: str | None = None
    command: str
    user_id: str
    name: str
    content: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    tags: list[str] | None = None
    is_active: bool | None = True
    version_id: str | None = None
    created_at: int | None = None
    updated_at: int | None = None
    access_grants: list[dict[str, Any]] = Field(default_factory=list)
    access_control: dict[str, Any] | None = None  # the seeds' form of the same grants


class PromptUserResponse(PromptModel):
    user: UserResponse | None = None


class PromptAccessResponse(PromptUserResponse):
    write_access: bool | None = False


class PromptAccessListResponse(BaseModel):
    items: list[PromptAccessResponse]
    total: int


class PromptHistoryModel(BaseModel):
    id: str
    prompt_id: str
    parent_id: str | None = None
    snapshot: dict[str, Any]
    user_id: str
    commit_message: str | None = None
    created_at: int


class PromptHistoryResponse(PromptHistoryModel):
    user: UserResponse | None = None


class PromptDiff(BaseModel):
    from_id: str
    to_id: str
    from_snapshot: dict[str, Any]
    to_snapshot: dict[str, Any]
    content_diff: list[str]
    line_endings_only: bool
    name_changed: bool
    access_grants_changed: bool
    patch: list[dict[str, Any]] = Field(description="RFC 6902 JSON Patch from one snapshot to the other")


def prompt_view(row: dict[str, Any]) -> dict[str, Any]:
    """A prompt row (read model or aggregate) with its grants in both forms."""
    return access_view("prompt", row, row["created_at"])


def snapshot_view(prompt_id: str, revision: Revision) -> dict[str, Any]:
    """A revision's snapshot as 0.12.4 stores it: the text and the grants then in force."""
    snapshot = {k: v for k, v in revision.snapshot.items() if k != "access_control"}
    return {**snapshot, "access_grants": access_grants(
        "prompt", prompt_id, revision.snapshot.get("access_control"), revision.created_at)}


def history_view(prompt_id: str, revision: Revision,
                 authors: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    out = {"id": str(revision.version), "prompt_id": prompt_id,
           "parent_id": None if revision.parent is None else str(revision.parent),
           "snapshot": snapshot_view(prompt_id, revision), "user_id": revision.author,
           "commit_message": revision.commit_message, "created_at": revision.created_at}
    if authors is not None:
        out["user"] = authors.get(revision.author)
    return out
