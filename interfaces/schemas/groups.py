"""Request/response models of /api/v1/groups/* (Open WebUI 0.12.4 component names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from interfaces.schemas.json_limits import JSONObject
from interfaces.schemas.users import UserInfoResponse

NAME_MAX_CHARS = 1_000  # not in reference
DESCRIPTION_MAX_CHARS = 100_000  # not in reference
USER_IDS_MAX = 10_000  # users per add/remove request; not in reference
ID_MAX_CHARS = 255  # not in reference

GroupText = Annotated[str, StringConstraints(max_length=NAME_MAX_CHARS)]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX_CHARS)]
GroupRef = Annotated[str, StringConstraints(max_length=ID_MAX_CHARS)]


def _default_models(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The reference's check of data.config.default_models (ids trimmed, repeats dropped)."""
    if data is None or "config" not in data:
        return data
    config = data["config"]
    if not isinstance(config, dict):
        raise ValueError("Group config must be an object.")
    models = config.get("default_models")
    if models is None:
        return data
    if not isinstance(models, list) or any(not isinstance(m, str) or not m.strip() for m in models):
        raise ValueError("Default models must be a list of non-empty model IDs.")
    unique = list(dict.fromkeys(m.strip() for m in models))
    return {**data, "config": {**config, "default_models": unique}}


class GroupForm(BaseModel):
    parent_group_id: GroupRef | None = None
    name: GroupText
    description: Description
    permissions: JSONObject | None = None
    data: Annotated[JSONObject | None, AfterValidator(_default_models)] = None


class GroupUpdateForm(GroupForm):
    pass


class UserIdsForm(BaseModel):
    user_ids: list[GroupRef] | None = Field(default=None, max_length=USER_IDS_MAX)


class GroupResponse(BaseModel):
    parent_group_id: str | None = None
    id: str
    user_id: str
    name: str
    description: str
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    permissions: dict[str, Any] | None = None
    created_at: int
    updated_at: int
    member_count: int | None = None


class GroupInfoResponse(BaseModel):
    parent_group_id: str | None = None
    id: str
    user_id: str
    name: str
    description: str
    member_count: int | None = None
    created_at: int
    updated_at: int


class GroupExportResponse(GroupResponse):
    user_ids: list[str] = Field(default_factory=list)


class GroupMemberInfo(UserInfoResponse):
    membership_type: Literal["direct", "inherited"]
    via_group_ids: list[str] = Field(default_factory=list)


class GroupMembersResponse(BaseModel):
    items: list[GroupMemberInfo]
    total: int
    counts: dict[str, int]
