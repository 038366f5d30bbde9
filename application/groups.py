"""Group use cases, as Open WebUI 0.12.4's /api/v1/groups: admins create, edit and fill groups;
everyone reads the groups they are in; a user's permissions are the defaults widened by theirs.

Who may see what through a group is not decided here: the `GroupMembership` port
(application/access.py) answers from the groups read model, and every access check asks it.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from application.access import revoked
from application.auth import Principal
from application.commands import CommandRunner, Outcome
from application.domain_errors import domain_errors
from application.errors import BadRequest, NotFound
from application.messages import Detail
from application.permissions import EffectivePermissions, combine_permissions
from application.ports import EventStorePort
from domain.access import PUBLIC
from domain.group import Group, GroupError, group_uuid
from domain.user import User

DEFAULT_SHARE = "members"  # the reference's DEFAULT_GROUP_SHARE_PERMISSION default


class GroupMessages:
    """The reference's literal `detail` strings of its group hierarchy errors."""

    GROUP_NOT_FOUND = "Group not found."
    PARENT_NOT_FOUND = "Parent group not found."
    PARENT_EMPTY = "Parent group must be a group ID or null."
    PARENT_CYCLE = "A group cannot be its own parent or a descendant of itself."


class GroupsReadModel(Protocol):
    def all(self) -> list[dict[str, Any]]: ...

    def get(self, group_id: str) -> dict[str, Any] | None: ...

    def of_member(self, user_id: str, include_inherited: bool = True) -> list[dict[str, Any]]: ...

    def group_ids(self, user_id: str) -> list[str]: ...

    def shareable(self, user_id: str, share: bool) -> list[dict[str, Any]]: ...

    def member_ids(self, group_id: str) -> list[str]: ...

    def granting(self, principal: str) -> list[str]: ...

    def ancestors(self, group_id: str) -> list[dict[str, Any]]: ...

    def reachable(self, principals: list[str], owner: str | None) -> dict[str, Any]: ...

    def direct_group_ids(self, user_ids: list[str]) -> dict[str, list[str]]: ...

    def existing_users(self, user_ids: list[str]) -> list[str]: ...

    def users(self, group_id: str) -> list[dict[str, Any]]: ...

    def members(self, group_id: str, membership: str, query: str,
                page: int) -> tuple[list[dict[str, Any]], int, dict[str, int]]: ...


class GroupNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(GroupMessages.GROUP_NOT_FOUND)


def default_models(group: dict[str, Any]) -> list[str] | None:
    """data.config.default_models of a group, None when it sets none."""
    config = (group.get("data") or {}).get("config")
    models = config.get("default_models") if isinstance(config, dict) else None
    return models or None


def with_default_share(data: dict[str, Any] | None) -> dict[str, Any]:
    """A new group's data with config.share set when the client left it out."""
    data = dict(data or {})
    config = data.get("config")
    config = dict(config) if isinstance(config, dict) else {}
    config.setdefault("share", DEFAULT_SHARE)
    return {**data, "config": config}


def merged_data(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """An update's data over the stored one, its config merged key by key (the reference's)."""
    old = old or {}
    old_config, new_config = old.get("config"), new.get("config")
    return {**old, **new, "config": {**(old_config if isinstance(old_config, dict) else {}),
                                     **(new_config if isinstance(new_config, dict) else {})}}


class GroupService:
    def __init__(self, store: EventStorePort, runner: CommandRunner, groups: GroupsReadModel,
                 permissions: EffectivePermissions):
        self.store = store
        self.runner = runner
        self.groups = groups
        self.effective = permissions

    # -- loading ------------------------------------------------------------------------------
    def _load(self, group_id: str | None) -> Group | None:
        """The live group of an id, or None (unknown, malformed or deleted)."""
        key = group_uuid(group_id) if group_id else None
        group = self.store.get(key) if key is not None else None
        return group if isinstance(group, Group) and not group.deleted else None

    def _group(self, group_id: str) -> Group:
        group = self._load(group_id)
        if group is None:
            raise GroupNotFound()
        return group

    def _parent(self, group_id: str | None, parent_id: str | None) -> str | None:
        """A parent the group may take (the reference's validate_parent)."""
        if parent_id is None:
            return None
        if not parent_id:
            raise BadRequest(GroupMessages.PARENT_EMPTY)
        if self._load(parent_id) is None:
            raise NotFound(GroupMessages.PARENT_NOT_FOUND)
        if group_id is not None and group_id in self._ancestry(parent_id):
            raise BadRequest(GroupMessages.PARENT_CYCLE)
        return parent_id

    def _ancestry(self, group_id: str) -> list[str]:
        """The group and its ancestors, through deleted ones (their children moved up)."""
        chain: list[str] = []
        current: str | None = group_id
        while current is not None and current not in chain:
            chain.append(current)
            key = group_uuid(current)
            group = self.store.get(key) if key is not None else None
            current = group.parent_group_id if isinstance(group, Group) else None
        return chain

    def _live_parent(self, group: Group) -> str | None:
        """The nearest live ancestor: what the group's parent is once deleted ones step aside."""
        if group.parent_group_id is None:  # from the aggregate at hand: it may not be saved yet
            return None
        for ancestor in self._ancestry(group.parent_group_id):
            if ancestor != group.group_id and self._load(ancestor) is not None:
                return ancestor
        return None

    def _users(self, user_ids: list[str]) -> list[str]:
        """The ids that name live users: the users read model, and for the ids it does not
        know (yet: a user who signed up a moment ago) the users themselves."""
        known = set(self.groups.existing_users(user_ids))
        return [u for u in dict.fromkeys(user_ids) if u in known or self._live_user(u)]

    def _live_user(self, user_id: str) -> bool:
        try:
            user = self.store.get(uuid.UUID(user_id))
        except (ValueError, TypeError, AttributeError):
            return False
        return isinstance(user, User) and not user.deleted

    def view(self, group: Group, added: list[str] | None = None) -> dict[str, Any]:
        """GroupResponse of the aggregate (a command's answer reflects what it recorded);
        members count when they exist, those `added` now being known to."""
        fresh = set(added or [])
        known = set(self.groups.existing_users([u for u in group.members if u not in fresh]))
        count = sum(1 for u in group.members if u in known or u in fresh)
        return {"id": group.group_id, "user_id": group.user_id, "name": group.name,
                "description": group.description, "parent_group_id": self._live_parent(group),
                "data": group.data, "meta": group.meta, "permissions": group.permissions,
                "created_at": group.created_at, "updated_at": group.updated_at,
                "member_count": count}

    # -- commands -----------------------------------------------------------------------------
    def create(self, principal: Principal, name: str, description: str,
               permissions: dict[str, Any] | None, data: dict[str, Any] | None,
               parent_group_id: str | None) -> Outcome[dict[str, Any]]:
        def decide() -> tuple[dict[str, Any], list[Any]]:
            parent = self._parent(None, parent_group_id)
            with domain_errors(GroupError):
                group = Group.start(principal.id, name=name, description=description,
                                    permissions=permissions, data=with_default_share(data),
                                    parent_group_id=parent)
            return self.view(group), [group]

        return self.runner.run("groups.create", decide)

    def update(self, group_id: str, name: str, description: str,
               permissions: dict[str, Any] | None, data: dict[str, Any] | None,
               parent: tuple[str | None] | None) -> Outcome[dict[str, Any]]:
        """Fields left None keep their value; `parent` is (new parent,) when the client sent one
        (null included: back to the top level)."""
        def decide() -> tuple[dict[str, Any], list[Any]]:
            group = self._group(group_id)
            changes: dict[str, Any] = {"name": name, "description": description}
            if permissions is not None:
                changes["permissions"] = permissions
            if data is not None:
                changes["data"] = merged_data(group.data, data)
            if parent is not None:
                changes["parent_group_id"] = self._parent(group.group_id, parent[0])
            with domain_errors(GroupError):
                group.update(**changes)
            return self.view(group), [group]

        return self.runner.run("groups.update", decide)

    def add_users(self, group_id: str, user_ids: list[str] | None) -> Outcome[dict[str, Any]]:
        valid = self._users(list(user_ids or []))

        def decide() -> tuple[dict[str, Any], list[Any]]:
            group = self._group(group_id)
            group.add_members(valid)
            return self.view(group, valid), [group]

        return self.runner.run("groups.add_users", decide)

    def remove_users(self, group_id: str, user_ids: list[str] | None) -> Outcome[dict[str, Any]]:
        def decide() -> tuple[dict[str, Any], list[Any]]:
            group = self._group(group_id)
            group.remove_members(list(user_ids or []))
            return self.view(group), [group]

        return self.runner.run("groups.remove_users", decide)

    def delete(self, group_id: str) -> Outcome[bool]:
        """Delete the group and take it out of every grant that names it (as the reference
        deletes its access grants). Grants the read model does not show yet stay on their item
        but give nothing: nobody is a member of a deleted group."""
        granting = self.groups.granting(f"group:{group_id}")

        def decide() -> tuple[bool, list[Any]]:
            group = self._group(group_id)
            group.delete()
            return True, [group, *revoked(self.store, granting, "group", group.group_id)]

        return self.runner.run("groups.delete", decide)

    # -- queries ------------------------------------------------------------------------------
    def visible(self, principal: Principal, share: bool | None) -> list[dict[str, Any]]:
        """GET /groups/: admins every group; others theirs, or those they may share with."""
        if principal.is_admin:
            return self.groups.all()
        if share is None:
            return self.groups.of_member(principal.id, include_inherited=True)
        return self.groups.shareable(principal.id, share)

    def get(self, group_id: str) -> dict[str, Any]:
        row = self.groups.get(group_id)
        if row is None:
            raise NotFound(Detail.NOT_FOUND)
        return row

    def export(self, group_id: str) -> dict[str, Any]:
        row = self.get(group_id)
        return {**row, "user_ids": self.groups.member_ids(group_id)}

    def users(self, group_id: str) -> list[dict[str, Any]]:
        return self.groups.users(group_id)

    def members(self, group_id: str, membership: str, query: str,
                page: int) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
        if self.groups.get(group_id) is None:
            raise GroupNotFound()
        return self.groups.members(group_id, membership, query, page)

    def of_user(self, user_id: str, include_inherited: bool) -> list[dict[str, Any]]:
        """A user's groups (GET /users/groups): direct ones, or all with how each is held."""
        direct = self.groups.of_member(user_id, include_inherited=False)
        if not include_inherited:
            return direct
        direct_ids = {g["id"] for g in direct}
        return [{**g, "membership_type": "direct" if g["id"] in direct_ids else "inherited"}
                for g in self.groups.of_member(user_id, include_inherited=True)]

    def preview(self, group_id: str) -> dict[str, Any]:
        """What a group reaches (GET /groups/id/{id}/preview): items its members may read
        through it or its ancestors, its default models, and its permissions with and without
        what it inherits."""
        group = self.get(group_id)
        ancestors = self.groups.ancestors(group_id)
        chain = [group, *ancestors]
        principals = [PUBLIC, *(f"group:{g['id']}" for g in chain)]
        inherited = self.effective.defaults()
        for ancestor in ancestors:
            inherited = combine_permissions(inherited, ancestor["permissions"] or {})
        source = next((g for g in chain if default_models(g)), None)
        return {
            "group": {"id": group["id"], "name": group["name"]},
            "default_models": {"local": default_models(group),
                               "effective": default_models(source) if source else [],
                               "source_group_id": source["id"] if source else None},
            **self.groups.reachable(principals, None),
            "permissions": group["permissions"] or {},
            "inherited_permissions": inherited,
            "effective_permissions": combine_permissions(inherited, group["permissions"] or {}),
        }

    def user_preview(self, user: dict[str, Any]) -> dict[str, Any]:
        """What a user reaches through their groups and their own items (admins)."""
        groups = self.groups.of_member(user["id"], include_inherited=True)
        principals = [PUBLIC, f"user:{user['id']}", *(f"group:{g['id']}" for g in groups)]
        return {"user": {"id": user["id"], "name": user["name"]},
                "groups": [{"id": g["id"], "name": g["name"]} for g in groups],
                **self.groups.reachable(principals, user["id"])}

    def direct_group_ids(self, user_ids: list[str]) -> dict[str, list[str]]:
        """Each user's direct groups (the admin's user list)."""
        return self.groups.direct_group_ids(user_ids)

    def permissions(self, principal: Principal) -> dict[str, Any]:
        """The caller's effective permissions (defaults combined with their groups')."""
        return self.effective(principal.id)

