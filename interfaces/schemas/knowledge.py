"""Request/response models of /api/v1/knowledge/* (Open WebUI 0.12.4 component names).

Access control travels as `access_control` (the spec) or `access_grants` (the 0.12.4 frontend);
answers carry both (see interfaces.schemas.models).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from interfaces.schemas.models import AccessForm, UserResponse, access_view, no_nul

NAME_MAX_CHARS = 1_000  # not in reference
DESCRIPTION_MAX_CHARS = 100_000  # not in reference
ID_MAX_CHARS = 255

Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX_CHARS,
                                        strip_whitespace=True), AfterValidator(no_nul)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX_CHARS),
                        AfterValidator(no_nul)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_CHARS),
               AfterValidator(no_nul)]


class KnowledgeForm(AccessForm):
    model_config = ConfigDict(extra="ignore")

    name: Name
    description: Description = ""


class KnowledgeFileIdForm(BaseModel):
    file_id: Id
    directory_id: Id | None = None


class FileMetadataResponse(BaseModel):
    id: str
    hash: str | None = None
    meta: dict[str, Any] | None = None
    created_at: int
    updated_at: int


class KnowledgeResponse(BaseModel):
    id: str
    user_id: str
    name: str
    description: str
    meta: dict[str, Any] | None = None
    access_control: dict[str, Any] | None = None
    access_grants: list[dict[str, Any]] = Field(default_factory=list)
    created_at: int
    updated_at: int
    files: list[FileMetadataResponse] | None = None


class KnowledgeFilesResponse(KnowledgeResponse):
    write_access: bool | None = False


class KnowledgeUserResponse(KnowledgeFilesResponse):
    """The spec's list item: the knowledge base with its files, and its owner."""

    user: UserResponse | None = None


def knowledge_view(row: dict[str, Any]) -> dict[str, Any]:
    return access_view("knowledge", row, row["created_at"])


class KnowledgeAccessResponse(KnowledgeFilesResponse):
    """An item of /knowledge/search: the base, its owner and how many files it holds."""

    user: UserResponse | None = None
    file_count: int | None = None


class KnowledgeAccessListResponse(BaseModel):
    items: list[KnowledgeAccessResponse]
    total: int


class FileUserResponse(BaseModel):
    """A file of a knowledge base's list (0.12.4's FileUserResponse; no directories here)."""

    model_config = ConfigDict(extra="allow")

    id: str
    user_id: str
    hash: str | None = None
    filename: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    created_at: int
    updated_at: int | None = None
    directory_id: str | None = None
    directory_path: str = ""
    has_original: bool = True
    user: UserResponse | None = None
    collection: dict[str, Any] | None = None  # /search/files: the base the file is in


class KnowledgeFileListResponse(BaseModel):
    items: list[FileUserResponse]
    directories: list[dict[str, Any]] = Field(default_factory=list)
    breadcrumbs: list[dict[str, Any]] = Field(default_factory=list)
    total: int
