"""Connections to language-model servers and the admin's model settings, as Open WebUI 0.12.4
names them (`/openai/config`, `/ollama/config`, `/api/v1/configs/connections|models`).

They are values of the system configuration: every change is an event on the SystemConfig
aggregate, whose events are encrypted with the system key, so API keys never sit in the log in
clear; the audit view redacts them (their names match its secret pattern) and only admins read
them back. Ollama keys live inside 0.12.4's per-connection config (`key`); they are stored apart
(`OLLAMA_API_KEYS`) so that the audit redaction covers them too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from application.commands import Outcome
from application.config import ConfigService

OPENAI_CONFIG_KEYS = ("enable", "prefix_id", "model_ids", "tags", "connection_type", "auth_type")
CONNECTION_DEFAULTS = {"ENABLE_DIRECT_CONNECTIONS": False, "ENABLE_DIRECT_INTEGRATIONS": False,
                       "ENABLE_BASE_MODELS_CACHE": False}
MODELS_DEFAULTS: dict[str, Any] = {"DEFAULT_MODELS": None, "DEFAULT_PINNED_MODELS": None,
                                   "MODEL_ORDER_LIST": None, "DEFAULT_MODEL_METADATA": None,
                                   "DEFAULT_MODEL_PARAMS": None}


@dataclass(frozen=True)
class Connection:
    """One enabled upstream, as the model list and completions use it."""

    kind: str  # "openai" | "ollama"
    index: int  # 0.12.4's urlIdx
    base_url: str
    key: str
    config: dict[str, Any]

    @property
    def prefix(self) -> str:
        prefix = self.config.get("prefix_id")
        return f"{prefix}." if isinstance(prefix, str) and prefix else ""

    @property
    def allowed_ids(self) -> list[str]:
        ids = self.config.get("model_ids")
        return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def _fit(values: list[str], length: int) -> list[str]:
    """0.12.4 pads or cuts the key list to the URL list."""
    return [*values[:length], *([""] * (length - len(values)))]


def _configs(configs: dict[str, Any], length: int, allowed: tuple[str, ...] | None
             ) -> dict[str, dict[str, Any]]:
    """Per-connection configs keyed "0".."n-1"; others dropped, as 0.12.4 drops them."""
    out: dict[str, dict[str, Any]] = {}
    for index in map(str, range(length)):
        entry = configs.get(index)
        if isinstance(entry, dict):
            out[index] = {k: v for k, v in entry.items() if allowed is None or k in allowed}
    return out


class ConnectionsService:
    def __init__(self, config: ConfigService):
        self.config = config

    # -- OpenAI-compatible ----------------------------------------------------------------
    def openai(self) -> dict[str, Any]:
        enabled, urls, keys, configs = self._stored("openai")
        return {"ENABLE_OPENAI_API": enabled, "OPENAI_API_BASE_URLS": urls,
                "OPENAI_API_KEYS": keys, "OPENAI_API_CONFIGS": configs}

    def update_openai(self, enable: bool | None, urls: list[str], keys: list[str],
                      configs: dict[str, Any]) -> Outcome[dict[str, Any]]:
        urls = [u.strip().rstrip("/") for u in urls]
        changes: dict[str, Any] = {"OPENAI_API_BASE_URLS": urls,
                                   "OPENAI_API_KEYS": _fit(keys, len(urls)),
                   "OPENAI_API_CONFIGS": _configs(configs, len(urls), OPENAI_CONFIG_KEYS)}
        if enable is not None:
            changes["ENABLE_OPENAI_API"] = enable
        outcome = self.config.update(changes)
        return Outcome(self.openai(), outcome.position)

    # -- Ollama ---------------------------------------------------------------------------
    def ollama(self) -> dict[str, Any]:
        """0.12.4's shape: each connection's key inside its config."""
        enabled, urls, keys, configs = self._stored("ollama")
        configs = {i: dict(c) for i, c in configs.items()}
        for index, key in enumerate(keys):
            if key:
                configs.setdefault(str(index), {})["key"] = key
        return {"ENABLE_OLLAMA_API": enabled, "OLLAMA_BASE_URLS": urls,
                "OLLAMA_API_CONFIGS": configs}

    def update_ollama(self, enable: bool | None, urls: list[str], configs: dict[str, Any]
                      ) -> Outcome[dict[str, Any]]:
        urls = [u.strip().rstrip("/") for u in urls]
        kept = _configs(configs, len(urls), None)
        keys = [str(kept.get(str(i), {}).pop("key", "") or "") for i in range(len(urls))]
        changes: dict[str, Any] = {"OLLAMA_BASE_URLS": urls, "OLLAMA_API_KEYS": keys,
                                   "OLLAMA_API_CONFIGS": kept}
        if enable is not None:
            changes["ENABLE_OLLAMA_API"] = enable
        outcome = self.config.update(changes)
        return Outcome(self.ollama(), outcome.position)

    # -- what the model list and completions use ------------------------------------------
    def _stored(self, kind: str, values: dict[str, Any] | None = None
                ) -> tuple[bool, list[str], list[str], dict[str, Any]]:
        """(enabled, URLs, keys, per-connection configs) of one kind, as saved."""
        values = values if values is not None else self.config.values()
        prefix, urls_key = ("OPENAI_API", "OPENAI_API_BASE_URLS") if kind == "openai" else (
            "OLLAMA_API", "OLLAMA_BASE_URLS")
        urls = list(values.get(urls_key) or [])
        return (bool(values.get(f"ENABLE_{prefix}")), urls,
                _fit(list(values.get(f"{prefix}_KEYS") or []), len(urls)),
                dict(values.get(f"{prefix}_CONFIGS") or {}))

    def _all(self, kind: str, values: dict[str, Any] | None = None
             ) -> tuple[bool, list[Connection]]:
        """Whether the kind is switched on, and each of its configured connections."""
        switched_on, urls, keys, configs = self._stored(kind, values)
        return switched_on, [Connection(kind, i, url, keys[i], configs.get(str(i)) or {})
                             for i, url in enumerate(urls)]

    def enabled(self, values: dict[str, Any] | None = None) -> list[Connection]:
        """Every connection switched on, OpenAI-compatible first (0.12.4's order)."""
        found: list[Connection] = []
        for kind in ("openai", "ollama"):
            switched_on, connections = self._all(kind, values)
            if switched_on:
                found += [c for c in connections if c.base_url and c.config.get("enable", True)]
        return found

    def at(self, kind: str, index: int, values: dict[str, Any] | None = None
           ) -> Connection | None:
        """A configured connection by index, enabled or not (for verify and per-index lists)."""
        connections = self._all(kind, values)[1]
        return connections[index] if 0 <= index < len(connections) else None

    async def values_async(self) -> dict[str, Any]:
        """The saved values for code on an event loop: from this process's cache when fresh,
        else read on a worker thread."""
        cached = self.config.cached()
        return cached if cached is not None else await asyncio.to_thread(self.config.values)

    # -- /api/v1/configs ------------------------------------------------------------------
    def _section(self, defaults: dict[str, Any]) -> dict[str, Any]:
        values = self.config.values()
        return {k: values.get(k, default) for k, default in defaults.items()}

    def connections(self) -> dict[str, Any]:
        return self._section(CONNECTION_DEFAULTS)

    def models_config(self) -> dict[str, Any]:
        return self._section(MODELS_DEFAULTS)

    def update_section(self, defaults: dict[str, Any], values: dict[str, Any]
                       ) -> Outcome[dict[str, Any]]:
        outcome = self.config.update({k: v for k, v in values.items() if k in defaults})
        return Outcome(self._section(defaults), outcome.position)
