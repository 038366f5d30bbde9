"""/api/v1/groups: groups of users (admins manage them; members read theirs), as Open WebUI 0.12.4."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from interfaces import bounds
from interfaces.deps import AdminUser, VerifiedUser, Write, consistent
from interfaces.schemas.groups import (
    GroupExportResponse,
    GroupForm,
    GroupInfoResponse,
    GroupMembersResponse,
    GroupResponse,
    GroupUpdateForm,
    UserIdsForm,
)
from interfaces.schemas.users import QueryText, UserInfoResponse
from interfaces.services import Groups

router = APIRouter(prefix="/api/v1/groups", tags=["groups"])
GROUPS = consistent("groups", "users")  # member lists join the users read model
REACH = consistent("groups", "models", "knowledge", "tools")
GRANTS = consistent("models", "knowledge", "tools")


@router.get("/", response_model=list[GroupResponse], dependencies=[GROUPS])
def list_groups(principal: VerifiedUser, groups: Groups,
                share: bool | None = None) -> list[dict[str, Any]]:
    """Every group (admins), or the caller's (share=true|false: those they may share with)."""
    return groups.visible(principal, share)


@router.post("/create", response_model=GroupResponse | None)
def create_group(form: GroupForm, principal: AdminUser, groups: Groups,
                 written: Write) -> dict[str, Any]:
    """Create a group (admins)."""
    outcome = groups.create(principal, form.name, form.description, form.permissions, form.data,
                            form.parent_group_id)
    written(outcome.position)
    return outcome.value


@router.get("/id/{id}", response_model=GroupResponse | None, dependencies=[GROUPS])
def get_group(id: str, principal: AdminUser, groups: Groups) -> dict[str, Any]:
    """A group with its member count (admins)."""
    return groups.get(id)


@router.get("/id/{id}/info", response_model=GroupInfoResponse | None, dependencies=[GROUPS])
def group_info(id: str, principal: VerifiedUser, groups: Groups) -> dict[str, Any]:
    """A group's name, description and member count."""
    return groups.get(id)


@router.get("/id/{id}/export", response_model=GroupExportResponse | None, dependencies=[GROUPS])
def export_group(id: str, principal: AdminUser, groups: Groups) -> dict[str, Any]:
    """A group with its members' ids (admins)."""
    return groups.export(id)


@router.post("/id/{id}/users", response_model=list[UserInfoResponse], dependencies=[GROUPS])
def group_users(id: str, principal: AdminUser, groups: Groups) -> list[dict[str, Any]]:
    """The group's direct members (admins)."""
    return groups.users(id)


@router.get("/id/{id}/members", response_model=GroupMembersResponse, dependencies=[GROUPS])
def group_members(id: str, principal: AdminUser, groups: Groups,
                  membership: Literal["direct", "inherited", "effective"] = "effective",
                  query: Annotated[QueryText, Query()] = "",
                  page: Annotated[bounds.Page, Query()] = 1) -> dict[str, Any]:
    """Members of the group and of its child groups, searched and paged (admins)."""
    users, total, counts = groups.members(id, membership, query, page)
    items = [{**u, "membership_type": "direct" if id in u["sources"] else "inherited",
              "via_group_ids": sorted(g for g in u["sources"] if g != id)} for u in users]
    return {"items": items, "total": total, "counts": counts}


@router.get("/id/{id}/preview", dependencies=[REACH])
def preview_group(id: str, principal: AdminUser, groups: Groups) -> dict[str, Any]:
    """Show what resources a group can access (preview audit)."""
    return groups.preview(id)


@router.post("/id/{id}/update", response_model=GroupResponse | None)
def update_group(id: str, form: GroupUpdateForm, principal: AdminUser, groups: Groups,
                 written: Write) -> dict[str, Any]:
    """Change a group's name, description, permissions, data or parent (admins)."""
    parent = (form.parent_group_id,) if "parent_group_id" in form.model_fields_set else None
    outcome = groups.update(id, form.name, form.description, form.permissions, form.data, parent)
    written(outcome.position)
    return outcome.value


@router.post("/id/{id}/users/add", response_model=GroupResponse | None)
def add_users(id: str, form: UserIdsForm, principal: AdminUser, groups: Groups,
              written: Write) -> dict[str, Any]:
    """Add users to a group; ids naming no user are ignored (admins)."""
    outcome = groups.add_users(id, form.user_ids)
    written(outcome.position)
    return outcome.value


@router.post("/id/{id}/users/remove", response_model=GroupResponse | None)
def remove_users(id: str, form: UserIdsForm, principal: AdminUser, groups: Groups,
                 written: Write) -> dict[str, Any]:
    """Remove users from a group (admins)."""
    outcome = groups.remove_users(id, form.user_ids)
    written(outcome.position)
    return outcome.value


# The grants it removes are found in the items' read models: they hold the caller's writes first.
@router.delete("/id/{id}/delete", response_model=bool, dependencies=[GRANTS])
def delete_group(id: str, principal: AdminUser, groups: Groups, written: Write) -> bool:
    """Delete a group: its members and grants no longer count; child groups move up (admins)."""
    outcome = groups.delete(id)
    written(outcome.position)
    return outcome.value
