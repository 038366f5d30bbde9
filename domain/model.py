"""The Model aggregate: a workspace model (a preset over a base model, or a base model entry).

The id is chosen by the client, so the aggregate id is derived from it (`model_uuid`): a second
create of the same id is a version conflict in the log, and a deleted id is brought back by
`recreate` on the same aggregate.

Access control follows Open WebUI: `None` is public (everyone reads, only the owner and admins
write), `{}` is private, otherwise `{"read"|"write": {"user_ids": [...], "group_ids": [...]}}`.
The helpers at the end of this module are the one definition of that rule; tools use them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from eventsourcing.domain import Aggregate, event

PERMISSIONS = ("read", "write")
UPDATABLE = ("user_id", "base_model_id", "name", "meta", "params", "access_control", "is_active")


class ModelError(ValueError):
    """A model command broke an invariant."""


class ModelDeletedError(ModelError):
    """A command was sent to a deleted model."""


def model_uuid(model_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"chronicle:model:{model_id}")


def clean_json(value: Any) -> Any:
    """A deep copy of JSON data without NUL characters (PostgreSQL text rejects them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


class Model(Aggregate):
    @staticmethod
    def create_id(model_id: str) -> uuid.UUID:
        return model_uuid(model_id)

    @event("Created")
    def __init__(self, model_id: str, user_id: str, base_model_id: str | None, name: str,
                 meta: dict[str, Any], params: dict[str, Any],
                 access_control: dict[str, Any] | None, is_active: bool):
        self.model_id = model_id
        self.user_id = user_id
        self.base_model_id = base_model_id
        self.name = name
        self.meta = meta
        self.params = params
        self.access_control = access_control
        self.is_active = is_active
        self.deleted = False
        self.created_at = int(self.created_on.timestamp())

    @property
    def owner_id(self) -> str:
        """The creator's key encrypts the model's events (its name, prompt and settings)."""
        return self.user_id

    @property
    def updated_at(self) -> int:
        return int(self.modified_on.timestamp())

    def _live(self) -> None:
        if self.deleted:
            raise ModelDeletedError(f"model {self.model_id} is deleted")

    def update(self, **changes: Any) -> bool:
        """Record only what differs; True when something changed."""
        self._live()
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            raise ModelError(f"unknown model fields {sorted(unknown)}")
        cleaned = {k: clean_json(v) for k, v in changes.items()}
        changed = {k: v for k, v in cleaned.items() if getattr(self, k) != v}
        if changed:
            self._updated(changed)
        return bool(changed)

    @event("Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
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

    def recreate(self, user_id: str, fields: dict[str, Any]) -> None:
        """A deleted id taken again: a new model (new owner, new creation time) on the old stream."""
        if not self.deleted:
            raise ModelError(f"model {self.model_id} exists")
        self.trigger_event(self.Recreated, model_id=self.model_id, user_id=user_id,
                           fields=clean_json(fields))

    class Recreated(Aggregate.Event):
        model_id: str
        user_id: str
        fields: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.user_id = self.user_id
            for key, value in self.fields.items():
                setattr(aggregate, key, value)
            aggregate.deleted = False
            aggregate.created_at = int(self.timestamp.timestamp())


# -- access control (shared with tools) -------------------------------------------------------
def normalize_access_control(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """None stays public; anything else becomes read/write lists of unique ids (private if empty)."""
    if value is None:
        return None
    out: dict[str, Any] = {}
    for permission in PERMISSIONS:
        entry = value.get(permission)
        if isinstance(entry, dict):
            out[permission] = {kind: _unique(entry.get(kind) or [])
                               for kind in ("group_ids", "user_ids")}
    return out


def _unique(ids: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(i).replace("\x00", "") for i in ids if isinstance(i, str) and i))


def grants(access_control: dict[str, Any] | None) -> set[tuple[str, str]]:
    """(principal, permission) pairs: principal is "public", "user:<id>" or "group:<id>".

    Whoever may write may also read, so write entries grant read as well.
    """
    if access_control is None:
        return {("public", "read")}
    found: set[tuple[str, str]] = set()
    for permission in PERMISSIONS:
        entry = access_control.get(permission) or {}
        found |= {(f"user:{u}", permission) for u in entry.get("user_ids") or []}
        found |= {(f"group:{g}", permission) for g in entry.get("group_ids") or []}
    return found | {(p, "read") for p, permission in found if permission == "write"}


def principals(user_id: str, group_ids: Iterable[str]) -> list[str]:
    """Everything a user is, for matching against `grants`."""
    return ["public", f"user:{user_id}", *(f"group:{g}" for g in group_ids)]


def has_access(access_control: dict[str, Any] | None, owner_id: str | None, user_id: str,
               group_ids: Iterable[str], permission: str) -> bool:
    if owner_id is not None and owner_id == user_id:
        return True
    granted = grants(access_control)
    return any((p, permission) in granted for p in principals(user_id, group_ids))
