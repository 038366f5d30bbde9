"""Tool use cases: Open WebUI Python tools as Tool aggregates, their valves and user valves.

The server never runs a tool's code in its own process. Specs and the manifest come from
parsing the source; the Valves / UserValves schemas from a throw-away interpreter with time
and memory limits (the `ToolCode.schemas` adapter). Both happen once, when the source is
saved, and travel in the events. `analyse` blocks (a subprocess): call it from a worker thread.

Statuses follow the reference (routers/tools.py) except that an unknown id is 404 everywhere.
Valve values are read from the aggregates, never from a read model: they may hold secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from application.access import (
    PRIVATE,
    AccessControlled,
    GroupMembership,
    Viewer,
    sharing_filter,
    validated_sharing,
)
from application.auth import Principal
from application.commands import CommandRunner, Outcome
from application.errors import BadRequest, NotFound, Unauthorized
from application.history import ItemHistory, Version, VersionedStore, changed_fields
from application.messages import Detail
from application.permissions import allowed
from domain.base import clean_json
from domain.tool import Tool, ToolUserValves, tool_uuid, user_valves_uuid

Row = dict[str, Any]
BAD_ID = "Only alphanumeric characters and underscores are allowed in the id"  # upstream
TOO_NESTED = "Invalid Python: the code is nested too deeply"  # not in reference
HISTORY_FIELDS = ("name", "content", "meta")  # what a version snapshots (0.12.4)
VERSION_NOT_FOUND = "Version not found"  # upstream


@dataclass(frozen=True)
class ToolCode:
    """The tool-source adapter (infrastructure.tool_source), injected by the composition root.

    Every function raises a ValueError subclass on unusable input.
    """

    frontmatter: Callable[[str], dict[str, str]]
    specs: Callable[[str], list[dict[str, Any]]]
    schemas: Callable[[str], Any]  # → .valves, .user_valves (JSON schemas or None)
    validate: Callable[[dict[str, Any] | None, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ToolAnalysis:
    manifest: dict[str, str]
    specs: list[dict[str, Any]]
    valves_schema: dict[str, Any] | None
    user_valves_schema: dict[str, Any] | None


@dataclass
class ToolInput:
    id: str
    name: str
    content: str
    meta: dict[str, Any]
    access_control: dict[str, Any] | None = None
    access_sent: bool = False
    commit_message: str | None = None  # recorded in the event, for the history


class ToolsReadModel(Protocol):
    """What the service asks of the tools read model (projections.tools.ToolsQueries)."""

    def visible(self, viewer: Viewer | None, query: str | None) -> list[Row]: ...

    def get(self, tool_id: str, with_content: bool = True) -> Row | None: ...

    def owners(self, user_ids: list[str]) -> dict[str, Row]: ...


class ToolService(AccessControlled):
    def __init__(self, store: VersionedStore, runner: CommandRunner, tools: ToolsReadModel,
                 groups: GroupMembership, permissions: Callable[[str], dict[str, Any]],
                 code: ToolCode):
        self.store = store
        self.runner = runner
        self.tools = tools
        self.groups = groups
        self.permissions = permissions
        self.code = code
        self.versions = ItemHistory(store, changed_fields(HISTORY_FIELDS),
                                    lambda: NotFound(VERSION_NOT_FOUND))

    # -- who ------------------------------------------------------------------------------
    def _allowed(self, principal: Principal, *keys: str) -> bool:
        permissions = self.permissions(principal.id)
        return principal.is_admin or any(allowed(permissions, k) for k in keys)

    # -- reading the source ---------------------------------------------------------------
    def analyse(self, content: str) -> ToolAnalysis:
        """Manifest, specs and valves schemas of a tool's source; 400 when it is unusable."""
        try:
            specs = self.code.specs(content)  # ast only: bad syntax fails before any process
            schemas = self.code.schemas(content)
        except ValueError as error:
            raise BadRequest(Detail.DEFAULT(str(error))) from None
        except (RecursionError, MemoryError):  # the parser's own limits on nesting
            raise BadRequest(Detail.DEFAULT(TOO_NESTED)) from None
        return ToolAnalysis(self.code.frontmatter(content), specs, schemas.valves,
                            schemas.user_valves)

    # -- loading --------------------------------------------------------------------------
    def _load(self, tool_id: str) -> Tool | None:
        aggregate = self.store.get(tool_uuid(tool_id))
        return aggregate if isinstance(aggregate, Tool) else None

    def _live(self, tool_id: str) -> Tool:
        tool = self._load(tool_id)
        if tool is None or tool.deleted:
            raise NotFound(Detail.NOT_FOUND)
        return tool

    def _row(self, tool_id: str, with_content: bool = False) -> Row:
        row = self.tools.get(tool_id, with_content)
        if row is None:
            raise NotFound(Detail.NOT_FOUND)
        return row

    # -- queries --------------------------------------------------------------------------
    def listing(self, principal: Principal, query: str | None) -> list[Row]:
        rows = self.tools.visible(self.viewer(principal), query)
        owners = self.tools.owners([r["user_id"] for r in rows])
        for row in rows:
            row["user"] = owners.get(row["user_id"])
            row["has_user_valves"] = row.pop("user_valves_schema") is not None
        return rows

    def export(self, principal: Principal) -> list[Row]:
        """Every tool the caller may change, with its source (admins, or workspace.tools_export;
        401 otherwise, as 0.12.4)."""
        if not self._allowed(principal, "workspace.tools_export"):
            raise Unauthorized(Detail.UNAUTHORIZED)
        viewer = self.viewer(principal)
        return [self._row(r["id"], with_content=True) for r in self.tools.visible(viewer, None)
                if self.can(viewer, r["user_id"], r["access_control"], "write")]

    def access_listing(self, principal: Principal) -> list[Row]:
        """The tools the caller may use, each with whether they may change it (/tools/list)."""
        viewer = self.viewer(principal)
        rows = self.listing(principal, None)
        for row in rows:
            row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
        return rows

    def get(self, principal: Principal, tool_id: str) -> Row:
        row = self._row(tool_id, with_content=True)
        viewer = self.viewer(principal)
        if not self.can(viewer, row["user_id"], row["access_control"], "read"):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)
        row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
        return row

    def _readable(self, principal: Principal, tool_id: str, permission: str) -> Row:
        """The tool's row when the caller holds `permission` on it (else 401, as the reference)."""
        row = self._row(tool_id)
        if not self.can(self.viewer(principal), row["user_id"], row["access_control"],
                        permission):
            raise Unauthorized(Detail.ACCESS_PROHIBITED)
        return row

    def _historied(self, principal: Principal, tool_id: str) -> Tool:
        """The tool, when the caller may read its history: write access (else 401, as 0.12.4)."""
        return self._writable(self.viewer(principal), tool_id)

    def history(self, principal: Principal, tool_id: str, page: int) -> list[Version]:
        """A page of the tool's versions, newest first (from its event stream)."""
        return self.versions.page(self._historied(principal, tool_id), page)

    def history_entry(self, principal: Principal, tool_id: str,
                      history_id: str) -> tuple[Version, Tool]:
        """A version and the tool as it was then."""
        return self.versions.entry(self._historied(principal, tool_id), history_id)

    def author_names(self, versions: list[Version]) -> dict[str, str]:
        return {k: row["name"] for k, row in self.tools.owners([v.author for v in versions]).items()}

    def history_diff(self, principal: Principal, tool_id: str, from_id: str, to_id: str,
                     view: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """Two versions' snapshots as `view` shows them, and the JSON Patch between them."""
        return self.versions.diff(self._historied(principal, tool_id), from_id, to_id, view)

    def valves_spec(self, principal: Principal, tool_id: str) -> dict[str, Any] | None:
        return self._readable(principal, tool_id, "write")["valves_schema"]

    def user_valves_spec(self, principal: Principal, tool_id: str) -> dict[str, Any] | None:
        return self._readable(principal, tool_id, "read")["user_valves_schema"]

    def valves(self, principal: Principal, tool_id: str) -> dict[str, Any]:
        self._readable(principal, tool_id, "write")
        return self._live(tool_id).valves

    def user_valves(self, principal: Principal, tool_id: str) -> dict[str, Any]:
        """The caller's own valves for the tool: nobody ever reads another user's."""
        self._readable(principal, tool_id, "read")
        own = self.store.get(user_valves_uuid(tool_id, principal.id))
        return own.valves if isinstance(own, ToolUserValves) else {}

    # -- commands -------------------------------------------------------------------------
    def create(self, principal: Principal, form: ToolInput) -> Outcome[Tool]:
        if not self._allowed(principal, "workspace.tools", "workspace.tools_import"):
            raise Unauthorized(Detail.UNAUTHORIZED)
        if not form.id.isidentifier():
            raise BadRequest(BAD_ID)
        tool_id = form.id.lower()
        self._not_taken(tool_id)  # before running anything for an id that is taken
        analysis = self.analyse(form.content)
        asked = form.access_control if form.access_sent else PRIVATE
        fields = self._fields(principal, form, analysis, asked)

        def decide() -> tuple[Tool, list[Any]]:
            existing = self._not_taken(tool_id)
            if existing is None:
                tool = Tool(tool_id=tool_id, user_id=principal.id,
                            commit_message=form.commit_message, **fields)
            else:
                existing.recreate(principal.id, fields, form.commit_message)
                tool = existing
            return tool, [tool]

        return self.runner.run("tools.create", decide)

    def _not_taken(self, tool_id: str) -> Tool | None:
        """The deleted tool under `tool_id`, if any; 400 ID_TAKEN when a live one has it."""
        existing = self._load(tool_id)
        if existing is not None and not existing.deleted:
            raise BadRequest(Detail.ID_TAKEN)
        return existing

    def _fields(self, principal: Principal, form: ToolInput, analysis: ToolAnalysis,
                access_control: dict[str, Any] | None) -> dict[str, Any]:
        meta = {**form.meta, "manifest": analysis.manifest,
                "has_user_valves": analysis.user_valves_schema is not None}
        access = sharing_filter(principal, self.permissions(principal.id), access_control, "tool")
        return clean_json({"name": form.name, "content": form.content, "meta": meta,
                           "specs": analysis.specs, "valves_schema": analysis.valves_schema,
                           "user_valves_schema": analysis.user_valves_schema,
                           "access_control": access})

    def update(self, principal: Principal, tool_id: str, form: ToolInput) -> Outcome[Tool]:
        # Editing tools needs the workspace permission even for their authors (the reference's
        # fix for CVE-2026-45395): a user who lost it cannot keep changing code that will run.
        if not self._allowed(principal, "workspace.tools"):
            raise Unauthorized(Detail.UNAUTHORIZED)
        viewer = self.viewer(principal)
        current = self._writable(viewer, tool_id)
        analysis = self._analysis_of(current, form.content)
        fields = self._fields(principal, form, analysis, form.access_control)
        if not form.access_sent:
            del fields["access_control"]

        def decide() -> tuple[Tool, list[Any]]:
            tool = self._writable(viewer, tool_id)
            # the analysis depends on the new source only: never stale
            tool.update(commit_message=form.commit_message, **fields)
            return tool, [tool]

        return self.runner.run("tools.update", decide)

    def _analysis_of(self, tool: Tool, content: str) -> ToolAnalysis:
        """Unchanged source keeps what was read from it; new source is read again."""
        if content == tool.content:
            return ToolAnalysis(tool.meta.get("manifest") or {}, tool.specs, tool.valves_schema,
                                tool.user_valves_schema)
        return self.analyse(content)

    def access_update(self, principal: Principal, tool_id: str,
                      access_control: dict[str, Any]) -> Outcome[Tool]:
        """Replace a tool's grants (owner, write grantee or admin; 401 otherwise)."""
        viewer = self.viewer(principal)
        access = validated_sharing(principal, self.permissions(principal.id), access_control, "tool")

        def decide() -> tuple[Tool, list[Any]]:
            tool = self._writable(viewer, tool_id)
            tool.update(access_control=access)
            return tool, [tool]

        return self.runner.run("tools.access_update", decide)

    def _writable(self, viewer: Viewer | None, tool_id: str) -> Tool:
        tool = self._live(tool_id)
        if not self.can(viewer, tool.user_id, tool.access_control, "write"):
            raise Unauthorized(Detail.UNAUTHORIZED)
        return tool

    def delete(self, principal: Principal, tool_id: str) -> Outcome[bool]:
        viewer = self.viewer(principal)

        def decide() -> tuple[bool, list[Any]]:
            tool = self._writable(viewer, tool_id)
            tool.delete()
            return True, [tool]

        return self.runner.run("tools.delete", decide)

    def _validated(self, schema: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
        if schema is None:
            raise NotFound(Detail.NOT_FOUND)  # the tool has no such valves
        try:
            return self.code.validate(schema, values)
        except ValueError as error:
            raise BadRequest(Detail.DEFAULT(str(error))) from None

    def set_valves(self, principal: Principal, tool_id: str,
                   values: dict[str, Any]) -> Outcome[dict[str, Any]]:
        viewer = self.viewer(principal)

        def decide() -> tuple[dict[str, Any], list[Any]]:
            tool = self._live(tool_id)
            if not self.can(viewer, tool.user_id, tool.access_control, "write"):
                raise BadRequest(Detail.ACCESS_PROHIBITED)
            valves = self._validated(tool.valves_schema, values)
            tool.set_valves(valves)
            return valves, [tool]

        return self.runner.run("tools.set_valves", decide)

    def set_user_valves(self, principal: Principal, tool_id: str,
                        values: dict[str, Any]) -> Outcome[dict[str, Any]]:
        schema = self._readable(principal, tool_id, "read")["user_valves_schema"]
        valves = self._validated(schema, values)

        def decide() -> tuple[dict[str, Any], list[Any]]:
            own = self.store.get(user_valves_uuid(tool_id, principal.id))
            if isinstance(own, ToolUserValves):
                own.set(valves)
            else:
                own = ToolUserValves(tool_id=tool_id, user_id=principal.id, valves=valves)
            return valves, [own]

        return self.runner.run("tools.set_user_valves", decide)


def aggregate_row(tool: Tool) -> Row:
    """A tool as the API shows it, straight from the aggregate (answers to commands)."""
    return {"id": tool.tool_id, "user_id": tool.user_id, "name": tool.name,
            "content": tool.content, "specs": tool.specs, "meta": tool.meta,
            "access_control": tool.access_control, "created_at": tool.created_at,
            "updated_at": tool.updated_at}
