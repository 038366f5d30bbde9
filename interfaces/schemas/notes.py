"""Request/response models of /api/v1/notes/* (Open WebUI 0.12.4 OpenAPI component names).

Access travels as in the models API (`interfaces/schemas/models.py`): 0.12.4's `access_grants`,
or the seeds' `access_control`; answers carry both. Inputs are bounded so hostile input fails
with 422 before it reaches the log.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from interfaces.schemas.json_limits import json_depth
from interfaces.schemas.models import (
    QUERY_MAX_CHARS,
    AccessForm,
    AccessGrantsForm,
    UserResponse,
    access_view,
    no_nul,
)

TITLE_MAX_CHARS = 10_000  # not in reference
DATA_MAX_BYTES = 8 * 1024 * 1024  # a note's content as JSON (not in reference)
META_MAX_BYTES = 1024 * 1024  # not in reference
DEPTH_MAX = 200  # editor documents nest deeper than other free-form JSON (not in reference)
NOTE_ID_MAX_CHARS = 64


def bounded(max_bytes: int) -> AfterValidator:
    def check(value: Any) -> Any:
        if value is None:
            return value
        if json_depth(value, DEPTH_MAX) > DEPTH_MAX:
            raise ValueError(f"must nest at most {DEPTH_MAX} levels deep")
        if len(json.dumps(value, default=str)) > max_bytes:
            raise ValueError(f"must be at most {max_bytes} bytes of JSON")
        return value

    return AfterValidator(check)


Title = Annotated[str, StringConstraints(max_length=TITLE_MAX_CHARS), AfterValidator(no_nul)]
Data = Annotated[dict[str, Any] | None, bounded(DATA_MAX_BYTES)]
Meta = Annotated[dict[str, Any] | None, bounded(META_MAX_BYTES)]
QueryText = Annotated[str, StringConstraints(max_length=QUERY_MAX_CHARS)]
NoteId = Annotated[str, StringConstraints(min_length=1, max_length=NOTE_ID_MAX_CHARS)]


class NoteForm(AccessForm):
    model_config = ConfigDict(extra="ignore")

    title: Title
    data: Data = None
    meta: Meta = None


class NoteUpdateForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Title | None = None
    data: Data = None
    meta: Meta = None


class NoteAccessGrantsForm(AccessGrantsForm):
    """The note's new grants, all of them."""


# -- responses --------------------------------------------------------------------------------
class NoteModel(BaseModel):
    id: str
    user_id: str
    title: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    is_pinned: bool | None = False
    access_control: dict[str, Any] | None = None
    access_grants: list[dict[str, Any]] = Field(default_factory=list)
    created_at: int
    updated_at: int


class NoteResponse(NoteModel):
    write_access: bool = False


class NoteUserResponse(NoteModel):
    user: UserResponse | None = None


class NoteItemResponse(BaseModel):
    id: str
    title: str
    data: dict[str, Any] | None
    is_pinned: bool | None = False
    updated_at: int
    created_at: int
    user: UserResponse | None = None


class NoteListResponse(BaseModel):
    items: list[NoteUserResponse]
    total: int


def note_view(row: dict[str, Any]) -> dict[str, Any]:
    """A note with its grants in both forms (the grants dated, in seconds, with the note)."""
    return access_view("note", row, row["created_at"] // 1_000_000_000)
