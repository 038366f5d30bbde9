"""Access control shared by the workspace services (models, tools, knowledge): who is asking,
what they may read or write, and what they may share.

Admins bypass access control (the reference's BYPASS_ADMIN_ACCESS_CONTROL default). Group
membership comes through the `GroupMembership` port. Sharing follows Open WebUI 0.12.4's
`filter_allowed_access_grants`: on create, grants the caller may not give are dropped silently;
on `…/access/update` the whole change is refused (403) if any of them is.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from application.auth import Principal
from application.errors import Forbidden
from application.messages import Detail
from application.permissions import allowed
from domain.access import (
    Grant,
    from_grants,
    has_access,
    normalize_access_control,
    to_grants,
    without_principal,
)
from domain.model import Model
from domain.tool import Tool

# resource -> (may share at all, may share with everyone), as the reference's sharing keys
SHARING_KEYS = {
    "model": ("sharing.models", "sharing.public_models"),
    "knowledge": ("sharing.knowledge", "sharing.public_knowledge"),
    "prompt": ("sharing.prompts", "sharing.public_prompts"),
    "tool": ("sharing.tools", "sharing.public_tools"),
    "note": ("sharing.notes", "sharing.public_notes"),
}
PRIVATE: dict[str, Any] = {}


class GroupMembership(Protocol):
    def group_ids(self, user_id: str) -> list[str]: ...


class GrantIndex(Protocol):
    def granting(self, principal: str) -> list[str]: ...


def revoked(store: Any, aggregate_ids: list[str], principal_type: str,
            principal_id: str) -> list[Any]:
    """The shared items among these (models, tools, knowledge bases, and any item that is
    `share`d) whose grants to a deleted user or group were just removed (to be saved with the
    deletion)."""
    changed = []
    for aggregate_id in aggregate_ids:
        try:
            item = store.get(uuid.UUID(aggregate_id))
        except ValueError:
            continue
        if not hasattr(item, "access_control") or getattr(item, "deleted", True):
            continue
        access = without_principal(item.access_control, principal_type, principal_id)
        if access == item.access_control:
            continue
        if hasattr(item, "share"):  # knowledge bases (and prompts) change grants by sharing
            item.share(access or {})
        elif isinstance(item, Model | Tool):
            item.update(access_control=access)
        else:
            continue
        changed.append(item)
    return changed


class NoGroups:
    """Until groups exist nobody belongs to one."""

    def group_ids(self, user_id: str) -> list[str]:
        return []


@dataclass(frozen=True)
class Viewer:
    """Who is reading, for access filters; admins are not viewers (they see everything)."""

    user_id: str
    group_ids: tuple[str, ...] = ()


class AccessControlled:
    """Who may read or write workspace items (models, tools, knowledge) with access_control."""

    groups: GroupMembership

    def viewer(self, principal: Principal) -> Viewer | None:
        if principal.is_admin:
            return None
        return Viewer(principal.id, tuple(self.groups.group_ids(principal.id)))

    @staticmethod
    def can(viewer: Viewer | None, owner_id: str, access_control: dict[str, Any] | None,
            permission: str) -> bool:
        return viewer is None or has_access(access_control, owner_id, viewer.user_id,
                                            viewer.group_ids, permission)


def _may_give(permissions: dict[str, Any], resource: str) -> Callable[[Grant], bool]:
    general, public = SHARING_KEYS[resource]
    audiences = {"public": allowed(permissions, public),
                 "user": allowed(permissions, "access_grants.allow_users"),
                 "group": allowed(permissions, "access_grants.allow_groups")}

    def may(grant: Grant) -> bool:
        if not allowed(permissions, general):
            return False
        return audiences["public" if grant.public else grant.principal_type]

    return may


def sharing_filter(principal: Principal, permissions: dict[str, Any],
                   access_control: dict[str, Any] | None, resource: str
                   ) -> dict[str, Any] | None:
    """What the caller may actually share of `access_control` (the rest is dropped).

    Admins share as they like (a seed client's `None`, public, is kept as it is); anyone else
    needs the resource's sharing permission, and its public permission to share with everyone;
    access_grants.allow_users / allow_groups switch sharing with users or groups off.
    """
    if principal.is_admin:
        return normalize_access_control(access_control)
    may = _may_give(permissions, resource)
    return from_grants(g for g in to_grants(access_control) if may(g))


def validated_sharing(principal: Principal, permissions: dict[str, Any],
                      access_control: dict[str, Any], resource: str) -> dict[str, Any]:
    """`access_control` if the caller may give every grant in it, else 403 (access/update)."""
    if principal.is_admin:
        return from_grants(to_grants(access_control))
    may = _may_give(permissions, resource)
    if not all(may(g) for g in to_grants(access_control)):
        raise Forbidden(Detail.SHARE_FORBIDDEN)
    return from_grants(to_grants(access_control))
