"""The Group aggregate: a named set of users that carries permissions and receives access grants.

As in Open WebUI 0.12.4 a group has a name, a description, free-form `data` (its `config` holds
`share` and `default_models`) and `meta`, a nested permissions dict shaped like the admin's
default permissions, its direct members (user ids) and an optional parent group: members of a
group are inherited members of every ancestor.

Deleting a group is final (its id is a fresh uuid4, never chosen again). A child of a deleted
group keeps the id of its deleted parent here; readers skip deleted ancestors (the read model
moves the children up, as the reference does), so the two views agree on who inherits what.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, clean_json, epoch

EDITABLE = ("name", "description", "permissions", "data", "meta", "parent_group_id")


class GroupError(ValueError):
    """A group command broke an invariant."""


class GroupDeletedError(GroupError, DeletedError):
    """A command was sent to a deleted group."""


class Group(SoftDeleted, Aggregate):
    deleted_error = GroupDeletedError
    deleted_message = "group {0.id} is deleted"

    @event("Created")
    def __init__(self, user_id: str, name: str, description: str,
                 permissions: dict[str, Any] | None, data: dict[str, Any] | None,
                 meta: dict[str, Any] | None, parent_group_id: str | None):
        self.user_id = user_id
        self.name = name
        self.description = description
        self.permissions = permissions
        self.data = data
        self.meta = meta
        self.parent_group_id = parent_group_id
        self.members: list[str] = []
        self.deleted = False
        self.created_at = epoch(self.created_on)

    @classmethod
    def start(cls, user_id: str, **fields: Any) -> Group:
        """A new group with a fresh id; fields as EDITABLE names them, JSON cleaned."""
        unknown = set(fields) - set(EDITABLE)
        if unknown:
            raise GroupError(f"unknown group fields {sorted(unknown)}")
        values = {k: clean_json(fields.get(k)) for k in EDITABLE}
        return cls(user_id=user_id, name=values["name"] or "",
                   description=values["description"] or "", permissions=values["permissions"],
                   data=values["data"], meta=values["meta"],
                   parent_group_id=values["parent_group_id"])

    @property
    def group_id(self) -> str:
        return str(self.id)

    @property
    def owner_id(self) -> None:
        """System data: a group belongs to the installation, not to the admin who made it."""
        return None

    @property
    def updated_at(self) -> int:
        return epoch(self.modified_on)

    # -- commands -----------------------------------------------------------------------------
    def update(self, **changes: Any) -> bool:
        """Record only the fields that differ; True when something changed."""
        self._live()
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise GroupError(f"unknown group fields {sorted(unknown)}")
        if changes.get("parent_group_id") == self.group_id:
            raise GroupError("a group cannot be its own parent")
        cleaned = {k: clean_json(v) for k, v in changes.items()}
        changed = {k: v for k, v in cleaned.items() if getattr(self, k) != v}
        if changed:
            self._updated(changed)
        return bool(changed)

    @event("Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def add_members(self, user_ids: list[str]) -> list[str]:
        """The ids that were not members yet (recorded); members already in are no change."""
        self._live()
        present = set(self.members)
        added = [u for u in dict.fromkeys(user_ids) if u not in present]
        if added:
            self._members_added(added)
        return added

    @event("MembersAdded")
    def _members_added(self, user_ids: list[str]) -> None:
        self.members = [*self.members, *user_ids]

    def remove_members(self, user_ids: list[str]) -> list[str]:
        """The ids that were members (recorded); others are ignored, as the reference does."""
        self._live()
        asked = set(user_ids)
        removed = [u for u in self.members if u in asked]
        if removed:
            self._members_removed(removed)
        return removed

    @event("MembersRemoved")
    def _members_removed(self, user_ids: list[str]) -> None:
        gone = set(user_ids)
        self.members = [u for u in self.members if u not in gone]

    def delete(self) -> None:
        self._live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True


def group_uuid(group_id: str) -> uuid.UUID | None:
    """The aggregate id of a group id from a client; None when it cannot be one."""
    try:
        return uuid.UUID(group_id)
    except (ValueError, AttributeError, TypeError):
        return None
