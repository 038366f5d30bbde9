"""Settings an admin changes at run time (the environment gives their first values)."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

CONFIG_ID = uuid5(NAMESPACE_URL, "chronicle:system-config")


class SystemConfig(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return CONFIG_ID

    @event("Initialised")
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    owner_id = None

    def update(self, values: dict[str, Any]) -> None:
        changed = {k: v for k, v in values.items() if self.values.get(k) != v}
        if changed:
            self._updated(changed)

    @event("Updated")
    def _updated(self, changes: dict[str, Any]) -> None:
        self.values = {**self.values, **changes}
