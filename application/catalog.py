"""The model list the app's picker shows (`GET /api/models`): every enabled connection's models,
merged with the workspace models, filtered by what the caller may use.

Upstream lists are fetched concurrently and cached briefly, keyed by the connections' config, so
a config change is seen at once; a connection that fails drops out of the list with a warning
and does not fail the request. As 0.12.4: admins see every model; a user sees a connection's
model only once a workspace entry grants them read (the app's "Visibility"), and a preset only if
they may read it and its base model is in the list.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from application.access import AccessControlled, GroupMembership
from application.auth import Principal
from application.connections import Connection, ConnectionsService
from application.llm import LanguageModels, UpstreamError

log = logging.getLogger("chronicle.models")
CACHE_SECONDS = 10.0
Row = dict[str, Any]


class ModelCatalog(AccessControlled):
    def __init__(self, connections: ConnectionsService, llm: LanguageModels,
                 workspace: Callable[[], list[Row]], groups: GroupMembership,
                 workspace_version: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.connections = connections
        self.llm = llm
        self.workspace = workspace  # every live workspace model row (the models read model)
        self.workspace_version = workspace_version  # the models read model's log position
        self.groups = groups
        self.clock = clock
        self._cache: dict[str, tuple[float, list[Row]]] = {}
        self._rows: tuple[int, list[Row]] | None = None

    # -- upstream lists -------------------------------------------------------------------
    @staticmethod
    def _key(connection: Connection) -> str:
        """The cache key: the whole connection, so any change to its config is a miss."""
        return json.dumps([connection.kind, connection.index, connection.base_url,
                           connection.key, connection.config], sort_keys=True, default=str)

    async def _fetch(self, connection: Connection) -> list[Row]:
        cached = self._cache.get(self._key(connection))
        if cached and cached[0] > self.clock():
            return cached[1]
        try:
            if connection.kind == "openai":
                raw = await self.llm.openai_models(connection.base_url, connection.key)
            else:
                raw = await self.llm.ollama_models(connection.base_url, connection.key)
            models = [self._entry(connection, m) for m in raw]
            models = [m for m in models if self._allowed(connection, m)]
        except UpstreamError as error:
            log.warning("model list of %s connection %d failed: %s", connection.kind,
                        connection.index, error.message)
            models = []
        self._cache[self._key(connection)] = (self.clock() + CACHE_SECONDS, models)
        return models

    @staticmethod
    def _allowed(connection: Connection, model: Row) -> bool:
        ids = connection.allowed_ids
        return not ids or model["upstream_id"] in ids

    @staticmethod
    def _entry(connection: Connection, raw: Row) -> Row:
        upstream_id = raw.get("id") if connection.kind == "openai" else raw.get("model")
        upstream_id = str(upstream_id or raw.get("name"))
        model_id = f"{connection.prefix}{upstream_id}"
        entry: Row = {"id": model_id, "name": raw.get("name") or upstream_id, "object": "model",
                      "created": raw.get("created") or int(time.time()),
                      "owned_by": connection.kind,
                      "connection_type": connection.config.get("connection_type", "external"),
                      "urlIdx": connection.index, connection.kind: raw,
                      "tags": [t if isinstance(t, dict) else {"name": t}
                               for t in connection.config.get("tags") or []],
                      "upstream_id": upstream_id}
        return entry

    async def connection_models(self) -> list[Row]:
        """Every enabled connection's models, in connection order (first id wins)."""
        enabled = self.connections.enabled(await self.connections.values_async())
        lists = await asyncio.gather(*map(self._fetch, enabled))
        seen: dict[str, Row] = {}
        for models in lists:
            for model in models:
                seen.setdefault(model["id"], model)
        return list(seen.values())

    def forget(self) -> None:
        self._cache.clear()

    # -- the merged list ------------------------------------------------------------------
    async def models(self, principal: Principal) -> list[Row]:
        base = {m["id"]: dict(m) for m in await self.connection_models()}
        rows = {r["id"]: r for r in await self._workspace_rows()}
        viewer = self.viewer(principal)
        out: list[Row] = []
        for model_id, model in base.items():
            row = rows.get(model_id)
            if row is not None:
                model["info"] = row
                model["name"] = row["name"] or model["name"]
                if not row["is_active"]:
                    continue
            if viewer is not None and (row is None or not self.can(
                    viewer, row["user_id"], row["access_control"], "read")):
                continue
            out.append(self._public(model))
        for row in rows.values():
            if row["base_model_id"] and row["base_model_id"] in base and row["is_active"] and \
                    self.can(viewer, row["user_id"], row["access_control"], "read"):
                out.append(self._preset(row, base[row["base_model_id"]]))
        return out

    async def _workspace_rows(self) -> list[Row]:
        """The workspace models, read again only when the read model has moved on: every chat
        request resolves its model through them (the hot path of a completion)."""
        version = self.workspace_version() if self.workspace_version else None
        cached = self._rows
        if version is not None and version > 0 and cached is not None and cached[0] == version:
            return cached[1]
        rows = await asyncio.to_thread(self.workspace)
        if version is not None:
            self._rows = (version, rows)
        return rows

    async def base_models(self) -> list[Row]:
        return [self._public(m) for m in await self.connection_models()]

    @staticmethod
    def _public(model: Row) -> Row:
        out = {k: v for k, v in model.items() if k != "upstream_id"}
        out.setdefault("actions", [])
        out.setdefault("filters", [])
        return out

    @staticmethod
    def _preset(row: Row, base: Row) -> Row:
        meta = row.get("meta") or {}
        return {"id": row["id"], "name": row["name"], "object": "model",
                "created": row["created_at"], "owned_by": base["owned_by"],
                "connection_type": base.get("connection_type"), "info": row,
                "preset": True, "tags": meta.get("tags") or [], "actions": [], "filters": []}

    async def resolve(self, principal: Principal, model_id: str) -> tuple[Row, Row | None]:
        """(the connection model a request runs on, the preset it goes through, if any);
        LookupError when the caller may not use `model_id` (the rules of `models`)."""
        base = {m["id"]: m for m in await self.connection_models()}
        row = {r["id"]: r for r in await self._workspace_rows()}.get(model_id)
        viewer = self.viewer(principal)
        readable = row is not None and bool(row["is_active"]) and self.can(
            viewer, row["user_id"], row["access_control"], "read")
        if model_id in base and (readable or (row is None and viewer is None)):
            return base[model_id], None
        if readable and row is not None and row["base_model_id"] in base:
            return base[row["base_model_id"]], row
        raise LookupError(model_id)
