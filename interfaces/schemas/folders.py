"""Request/response models of /api/v1/folders/* (Open WebUI 0.12.4 OpenAPI component names)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from domain.folder import Folder

NAME_MAX_CHARS = 255  # not in reference
ID_MAX_CHARS = 255

FolderName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX_CHARS)]
FolderId = Annotated[str, StringConstraints(max_length=ID_MAX_CHARS)]


class FolderForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FolderName
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    parent_id: FolderId | None = None


class FolderUpdateForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FolderName | None = None
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None


class FolderParentIdForm(BaseModel):
    parent_id: FolderId | None = None


class FolderIsExpandedForm(BaseModel):
    is_expanded: bool


class FolderNameIdResponse(BaseModel):
    id: str
    name: str
    meta: dict[str, Any] | None = None
    parent_id: str | None = None
    is_expanded: bool = False
    unread_count: int = 0
    created_at: int
    updated_at: int


class FolderResponse(BaseModel):
    id: str
    parent_id: str | None = None
    user_id: str
    name: str
    items: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    is_expanded: bool = False
    created_at: int
    updated_at: int
    access_grants: list[dict[str, Any]] = []
    write_access: bool = False


def folder_response(folder: Folder) -> dict[str, Any]:
    return {"id": str(folder.id), "parent_id": folder.parent_id, "user_id": folder.owner_id,
            "name": folder.name, "items": None, "meta": folder.meta, "data": folder.data,
            "is_expanded": folder.is_expanded, "created_at": folder.created_at,
            "updated_at": folder.updated_at, "access_grants": [], "write_access": True}


def folder_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "meta": row["meta"],
            "parent_id": row["parent_id"], "is_expanded": row["is_expanded"], "unread_count": 0,
            "created_at": row["created_at"], "updated_at": row["updated_at"]}
