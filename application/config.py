"""Run-time configuration: environment defaults, overridden by what an admin saved (an aggregate)."""

from __future__ import annotations

import time
from typing import Any

from application.commands import CommandRunner, Outcome
from application.permissions import effective_permissions
from application.ports import EventStorePort
from domain.system_config import CONFIG_ID, SystemConfig


class ConfigService:
    TTL = 1.0  # seconds: other workers see an admin's change within this

    def __init__(self, store: EventStorePort, runner: CommandRunner, defaults: dict[str, Any]):
        self.store = store
        self.runner = runner
        self.defaults = defaults
        self._cached: tuple[float, dict[str, Any]] | None = None

    def values(self) -> dict[str, Any]:
        cached = self._cached
        if cached and cached[0] > time.monotonic():
            return cached[1]
        config = self.store.get(CONFIG_ID)
        merged = {**self.defaults, **(config.values if config else {})}
        self._cached = (time.monotonic() + self.TTL, merged)
        return merged

    def cached(self) -> dict[str, Any] | None:
        """The values when this process read them less than TTL ago, else None: what an event
        loop may use without waiting on the database."""
        cached = self._cached
        return cached[1] if cached and cached[0] > time.monotonic() else None

    def get(self, key: str) -> Any:
        return self.values().get(key)

    def enabled(self, key: str, default: bool = True) -> bool:
        """A feature flag an admin may never have saved (then `default`, as the reference)."""
        value = self.values().get(key)
        return default if value is None else bool(value)

    def update(self, changes: dict[str, Any]) -> Outcome[dict[str, Any]]:
        def decide() -> tuple[dict[str, Any], list[Any]]:
            config = self.store.get(CONFIG_ID) or SystemConfig()
            config.update(changes)
            return {**self.defaults, **config.values}, [config]

        outcome = self.runner.run("config.update", decide)
        self._cached = None
        return outcome

    def banners(self) -> list[dict[str, Any]]:
        """The admin's banners (0.12.4's `ui.banners`), newest setting wins."""
        return list(self.get("BANNERS") or [])

    def set_banners(self, banners: list[dict[str, Any]]) -> Outcome[list[dict[str, Any]]]:
        """Replace the banners: a config event on the system configuration."""
        outcome = self.update({"BANNERS": banners})
        return Outcome(list(outcome.value.get("BANNERS") or []), outcome.position)

    def default_permissions(self) -> dict[str, Any]:
        return effective_permissions(self.get("DEFAULT_PERMISSIONS"))


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int | None:
    """Open WebUI's JWT_EXPIRES_IN: "-1" or "" means never; otherwise e.g. "30m", "4w"."""
    text = text.strip()
    if text in {"", "-1", "0"}:
        return None
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            number = text[: -len(unit)]
            return max(1, int(float(number) * _UNITS[unit]))
    return int(text)
