"""Request/response models of /api/v1/files/* (Open WebUI 0.12.4 component names)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

METADATA_MAX_BYTES = 64 * 1024  # the upload's `metadata` form field (not in reference)
FILENAME_PATTERN_MAX = 255


class FileModelResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    user_id: str
    hash: str | None = None
    filename: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    created_at: int
    updated_at: int | None = None


class FileModel(BaseModel):
    id: str
    user_id: str
    hash: str | None = None
    filename: str
    path: str | None = None
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    created_at: int | None = None
    updated_at: int | None = None


class ContentForm(BaseModel):
    content: str = Field(max_length=20_000_001)


class MessageResponse(BaseModel):
    message: str


def file_view(row: dict[str, Any]) -> dict[str, Any]:
    """A read-model row (or an aggregate's row) as FileModelResponse fields."""
    return {"id": row["id"], "user_id": row["user_id"], "hash": row.get("hash"),
            "filename": row["filename"], "data": row.get("data") or {}, "meta": row.get("meta"),
            "created_at": row["created_at"], "updated_at": row.get("updated_at"),
            **({"path": row["path"]} if "path" in row else {}),
            **({"error": row["error"]} if row.get("status") == "failed" and row.get("error")
               else {})}


def aggregate_row(file: Any, text: str | None = None) -> dict[str, Any]:
    """A File aggregate as a read-model row would show it (answers to commands)."""
    data: dict[str, Any] = {}
    if file.status:
        data["status"] = file.status
        if file.status == "failed" and file.error:
            data["error"] = file.error
    if text is not None:
        data["content"] = text
    return {"id": file.file_id, "user_id": file.user_id, "hash": file.text_hash,
            "filename": file.filename, "data": data, "meta": file.meta,
            "created_at": file.created_at, "updated_at": file.updated_at,
            "status": file.status, "error": file.error}
