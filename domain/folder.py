"""Folder aggregate: a user's chat folder (Open WebUI models/folders.py).

Name uniqueness per parent and cycle-free parent links need to see other folders,
so the application checks them against its read model; this aggregate guards only
what it can see itself.
"""

import uuid
from collections.abc import Mapping
from copy import deepcopy
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, epoch
from domain.document import DocumentError, json_data


class FolderError(ValueError):
    """A folder command was given invalid data or broke an invariant."""


class FolderDeletedError(FolderError, DeletedError):
    """A command was sent to a deleted folder."""


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FolderError("folder name must be a non-empty string")
    return value.replace("\x00", "")


def _parent_id(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise FolderError("parent_id must be a non-empty string or null")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FolderError(f"{what} must be an object")
    try:
        return json_data(dict(value))
    except DocumentError as e:
        raise FolderError(f"{what}: {e}") from e


def _changes(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in patch.items() if k not in current or current[k] != v}


class Folder(SoftDeleted, Aggregate):
    """Attributes: owner_id (alias user_id), name, parent_id, is_expanded, meta, data,
    deleted, created_at, updated_at (epoch seconds)."""

    deleted_error = FolderDeletedError
    deleted_message = "folder {0.id} is deleted"

    @staticmethod
    def create_id(folder_id: str | None = None) -> uuid.UUID:
        # An explicit id lets the application make imports idempotent.
        if not folder_id:
            return uuid.uuid4()
        try:
            return uuid.UUID(folder_id)
        except (TypeError, ValueError, AttributeError) as e:
            raise FolderError(f"not a UUID: {folder_id!r}") from e

    @event("Created")
    def __init__(
        self,
        owner_id: str,
        folder_id: str | None,
        name: str,
        parent_id: str | None,
        is_expanded: bool,
        meta: dict[str, Any],
        data: dict[str, Any],
        timestamp: datetime | None = None,
    ) -> None:
        self.owner_id = owner_id
        self.name = name
        self.parent_id = parent_id
        self.is_expanded = is_expanded
        self.meta = deepcopy(meta)
        self.data = deepcopy(data)
        self.deleted = False
        self.created_at = epoch(timestamp)
        self.updated_at = self.created_at

    @classmethod
    def create(
        cls,
        user_id: str,
        name: str,
        *,
        parent_id: str | None = None,
        is_expanded: bool = False,
        meta: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        folder_id: str | None = None,
    ) -> "Folder":
        if not isinstance(user_id, str) or not user_id:
            raise FolderError("user_id must be a non-empty string")
        if folder_id is not None and not isinstance(folder_id, str):
            raise FolderError("folder_id must be a string or null")
        return cls(
            owner_id=user_id,
            folder_id=folder_id,
            name=_name(name),
            parent_id=_parent_id(parent_id),
            is_expanded=bool(is_expanded),
            meta=_object(meta, "meta"),
            data=_object(data, "data"),
        )

    @property
    def user_id(self) -> str:
        return self.owner_id

    # ---- commands ----------------------------------------------------------------

    def rename(self, name: str) -> None:
        self._live()
        name = _name(name)
        if name != self.name:
            self._rename(name)

    def move(self, parent_id: str | None) -> None:
        """Re-parent (None: top level). Deeper cycles are the application's check."""
        self._live()
        parent_id = _parent_id(parent_id)
        if parent_id == str(self.id):
            raise FolderError("a folder cannot be its own parent")
        if parent_id != self.parent_id:
            self._move(parent_id)

    def set_expanded(self, is_expanded: bool) -> None:
        self._live()
        if bool(is_expanded) != self.is_expanded:
            self._set_expanded(bool(is_expanded))

    def update_meta(self, patch: Mapping[str, Any]) -> None:
        """Shallow-merge `patch` into meta, as Open WebUI's folder update does."""
        self._live()
        changes = _changes(self.meta, _object(patch, "meta"))
        if changes:
            self._update_meta(changes)

    def update_data(self, patch: Mapping[str, Any]) -> None:
        """Shallow-merge `patch` into data (system prompt, files, model ids, ...)."""
        self._live()
        changes = _changes(self.data, _object(patch, "data"))
        if changes:
            self._update_data(changes)

    def delete(self) -> None:
        """Soft delete; what happens to child folders and chats is the application's call."""
        if not self.deleted:
            self._delete()

    # ---- events (method bodies are the event appliers, also run on replay) --------

    @event("Renamed")
    def _rename(self, name: str, timestamp: datetime | None = None) -> None:
        self.name = name
        self.updated_at = epoch(timestamp)

    @event("Moved")
    def _move(self, parent_id: str | None, timestamp: datetime | None = None) -> None:
        self.parent_id = parent_id
        self.updated_at = epoch(timestamp)

    @event("ExpansionChanged")
    def _set_expanded(self, is_expanded: bool, timestamp: datetime | None = None) -> None:
        self.is_expanded = is_expanded
        self.updated_at = epoch(timestamp)

    @event("MetaUpdated")
    def _update_meta(self, changes: dict[str, Any], timestamp: datetime | None = None) -> None:
        self.meta = {**self.meta, **deepcopy(changes)}
        self.updated_at = epoch(timestamp)

    @event("DataUpdated")
    def _update_data(self, changes: dict[str, Any], timestamp: datetime | None = None) -> None:
        self.data = {**self.data, **deepcopy(changes)}
        self.updated_at = epoch(timestamp)

    @event("Deleted")
    def _delete(self, timestamp: datetime | None = None) -> None:
        self.deleted = True
        self.updated_at = epoch(timestamp)
