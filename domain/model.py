"""The Model aggregate: a workspace model (a preset over a base model, or a base model entry).

The id is chosen by the client, so the aggregate id is derived from it (`model_uuid`): a second
create of the same id is a version conflict in the log, and a deleted id is brought back by
`recreate` on the same aggregate.

Access control is an `access_control` dict of grants (`domain/access.py` states the rule).
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, clean_json, epoch

UPDATABLE = ("user_id", "base_model_id", "name", "meta", "params", "access_control", "is_active")


class ModelError(ValueError):
    """A model command broke an invariant."""


class ModelDeletedError(ModelError, DeletedError):
    """A command was sent to a deleted model."""


def model_uuid(model_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"chronicle:model:{model_id}")


class Model(SoftDeleted, Aggregate):
    deleted_error = ModelDeletedError
    deleted_message = "model {0.model_id} is deleted"

    @staticmethod
    def create_id(model_id: str) -> uuid.UUID:
        return model_uuid(model_id)

    @event("Created")
    def __init__(self, model_id: str, user_id: str, base_model_id: str | None, name: str,
                 meta: dict[str, Any], params: dict[str, Any],
                 access_control: dict[str, Any] | None, is_active: bool,
                 commit_message: str | None = None):
        self.model_id = model_id
        self.user_id = user_id
        self.base_model_id = base_model_id
        self.name = name
        self.meta = meta
        self.params = params
        self.access_control = access_control
        self.is_active = is_active
        self.deleted = False
        self.created_at = epoch(self.created_on)

    @property
    def owner_id(self) -> str:
        """The creator's key encrypts the model's events (its name, prompt and settings)."""
        return self.user_id

    @property
    def updated_at(self) -> int:
        return epoch(self.modified_on)

    def update(self, *, commit_message: str | None = None, **changes: Any) -> bool:
        """Record only what differs (with the client's commit message, for the history);
        True when something changed."""
        self._live()
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            raise ModelError(f"unknown model fields {sorted(unknown)}")
        cleaned = {k: clean_json(v) for k, v in changes.items()}
        changed = {k: v for k, v in cleaned.items() if getattr(self, k) != v}
        if changed:
            self._updated(changed, commit_message)
        return bool(changed)

    @event("Updated")
    def _updated(self, changes: dict[str, Any], commit_message: str | None = None) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def toggle(self) -> None:
        self._live()
        self._toggled(not self.is_active)

    @event("Toggled")
    def _toggled(self, is_active: bool) -> None:
        self.is_active = is_active

    def delete(self) -> None:
        self._live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True

    def recreate(self, user_id: str, fields: dict[str, Any],
                 commit_message: str | None = None) -> None:
        """A deleted id taken again: a new model (new owner, new creation time) on the old stream."""
        if not self.deleted:
            raise ModelError(f"model {self.model_id} exists")
        self.trigger_event(self.Recreated, model_id=self.model_id, user_id=user_id,
                           fields=clean_json(fields), commit_message=commit_message)

    class Recreated(Aggregate.Event):
        model_id: str
        user_id: str
        fields: dict[str, Any]
        commit_message: str | None = None  # absent from events recorded before it existed

        def apply(self, aggregate: Any) -> None:
            aggregate.user_id = self.user_id
            for key, value in self.fields.items():
                setattr(aggregate, key, value)
            aggregate.deleted = False
            aggregate.created_at = epoch(self.timestamp)
