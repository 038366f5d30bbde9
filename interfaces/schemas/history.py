"""Responses of the model and tool history routes (Open WebUI 0.12.4's ModelHistory* and
ToolHistory* shapes). A version's id is its aggregate version; its snapshot is the item replayed
to that version, shown as 0.12.4 snapshots it."""

from __future__ import annotations

import copy
import difflib
from typing import Any

from pydantic import BaseModel, Field

from application.history import Version


class HistoryEntry(BaseModel):
    id: str
    parent_id: str | None = None
    user_id: str
    commit_message: str | None = None
    created_at: int
    user: dict[str, Any] | None = None


class ModelHistoryResponse(HistoryEntry):
    model_id: str


class ModelHistoryModel(ModelHistoryResponse):
    snapshot: dict[str, Any]


class ToolHistoryResponse(HistoryEntry):
    tool_id: str


class ToolHistoryModel(ToolHistoryResponse):
    snapshot: dict[str, Any]


class ToolHistoryDiff(BaseModel):
    from_id: str
    to_id: str
    metadata: dict[str, Any]
    content_diff: str
    line_endings_only: bool
    patch: list[dict[str, Any]] = Field(description="RFC 6902 JSON Patch from one snapshot to the other")


def entry_view(kind: str, item_id: str, version: Version,
               names: dict[str, str] | None = None) -> dict[str, Any]:
    """A version as 0.12.4 lists it (`kind`: "model" or "tool")."""
    name = (names or {}).get(version.author)
    return {"id": str(version.version), f"{kind}_id": item_id,
            "parent_id": None if version.parent is None else str(version.parent),
            "user_id": version.author, "commit_message": version.commit_message,
            "created_at": version.created_at, "user": {"name": name} if name else None}


def model_snapshot(model: Any) -> dict[str, Any]:
    """A Model aggregate as 0.12.4 snapshots a model version."""
    meta = copy.deepcopy(dict(model.meta or {}))
    meta.pop("hidden", None)
    meta.pop("chat_variables_schema", None)
    return {"name": model.name, "base_model_id": model.base_model_id,
            "params": copy.deepcopy(dict(model.params or {})), "meta": meta}


def tool_snapshot(tool: Any) -> dict[str, Any]:
    """A Tool aggregate as 0.12.4 snapshots a tool version (without what the server derives)."""
    meta = copy.deepcopy(dict(tool.meta or {}))
    meta.setdefault("description", None)
    if not meta.get("i18n"):
        meta.pop("i18n", None)
    for key in ("manifest", "has_user_valves"):
        meta.pop(key, None)
    return {"name": tool.name, "content": tool.content or "", "meta": meta}


def tool_diff_view(diff: dict[str, Any]) -> dict[str, Any]:
    """0.12.4's tool diff (changed metadata, a unified diff of the code), with the JSON Patch."""
    left, right = diff["from_snapshot"], diff["to_snapshot"]
    old, new = left.get("content") or "", right.get("content") or ""
    text = "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(),
                                          fromfile="selected.py", tofile="production.py",
                                          lineterm=""))
    return {"from_id": str(diff["from"].version), "to_id": str(diff["to"].version),
            "metadata": {k: {"before": left.get(k), "after": right.get(k)}
                         for k in ("name", "meta") if left.get(k) != right.get(k)},
            "content_diff": text, "line_endings_only": old != new and not text,
            "patch": diff["patch"]}
