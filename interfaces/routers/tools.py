"""/api/v1/tools: Open WebUI Python tools. Lists, lookups and valve schemas from the tools read
model; valve values from their aggregates; commands on the Tool aggregates.

Creating or changing a tool's source reads it in a sandboxed subprocess (up to a few seconds
for hostile code): those requests run in worker threads behind their own small limiter, so a
burst of them waits in the event loop instead of taking every worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Body, Path, Query, Request

from application.tools import aggregate_row
from interfaces import bounds
from interfaces.deps import VerifiedUser, Write, consistent
from interfaces.schemas.history import (
    ToolHistoryDiff,
    ToolHistoryModel,
    ToolHistoryResponse,
    entry_view,
    tool_diff_view,
    tool_snapshot,
)
from interfaces.schemas.models import AccessGrantsForm, QueryText
from interfaces.schemas.tools import (
    ID_MAX_CHARS,
    ToolAccessResponse,
    ToolForm,
    ToolModel,
    ToolResponse,
    ToolUserResponse,
    Valves,
    tool_view,
)
from interfaces.services import Tools

router = APIRouter(prefix="/api/v1/tools", tags=["tools"])
TOOLS = consistent("tools", "groups")  # who sees what depends on groups
SANDBOX_SLOTS = 2  # concurrent source analyses (each a subprocess of up to 512 MB)

ToolIdPath = Annotated[str, Path(max_length=ID_MAX_CHARS)]
ValvesBody = Annotated[Valves, Body()]
HistoryPage = Annotated[bounds.LenientPage, Query()]
HistoryIdPath = Annotated[str, Path(max_length=64)]
HistoryIdQuery = Annotated[str, Query(max_length=64)]
T = TypeVar("T")


async def _sandboxed(request: Request, call: Callable[..., T], *args: Any) -> T:
    state = request.app.state
    if getattr(state, "tool_sandbox", None) is None:
        state.tool_sandbox = anyio.CapacityLimiter(SANDBOX_SLOTS)
    return await anyio.to_thread.run_sync(call, *args, limiter=state.tool_sandbox)


# -- reads ------------------------------------------------------------------------------------
@router.get("/", response_model=list[ToolUserResponse], dependencies=[TOOLS])
def list_tools(principal: VerifiedUser, tools: Tools,
               query: Annotated[QueryText | None, Query()] = None) -> list[dict[str, Any]]:
    """The tools the caller may use."""
    return [tool_view(r) for r in tools.listing(principal, query)]


@router.get("/export", response_model=list[ToolModel], dependencies=[TOOLS])
def export_tools(principal: VerifiedUser, tools: Tools) -> list[dict[str, Any]]:
    """Every tool the caller may change, with its source, for export."""
    return [tool_view(r) for r in tools.export(principal)]


@router.get("/list", response_model=list[ToolAccessResponse], dependencies=[TOOLS])
def list_tools_with_access(principal: VerifiedUser, tools: Tools) -> list[dict[str, Any]]:
    """The tools the caller may use, with whether they may change each (the workspace page)."""
    return [tool_view(r) for r in tools.access_listing(principal)]


@router.get("/id/{id}", response_model=ToolAccessResponse, dependencies=[TOOLS])
def get_tool(id: ToolIdPath, principal: VerifiedUser, tools: Tools) -> dict[str, Any]:
    """One tool, with its code."""
    return tool_view(tools.get(principal, id))


@router.get("/id/{id}/valves", response_model=dict[str, Any] | None, dependencies=[TOOLS])
def get_valves(id: ToolIdPath, principal: VerifiedUser, tools: Tools) -> Any:
    """A tool's admin valves."""
    return tools.valves(principal, id)


@router.get("/id/{id}/valves/spec", response_model=dict[str, Any] | None, dependencies=[TOOLS])
def get_valves_spec(id: ToolIdPath, principal: VerifiedUser, tools: Tools) -> Any:
    """The JSON schema of a tool's admin valves."""
    return tools.valves_spec(principal, id)


@router.get("/id/{id}/valves/user", response_model=dict[str, Any] | None, dependencies=[TOOLS])
def get_user_valves(id: ToolIdPath, principal: VerifiedUser, tools: Tools) -> Any:
    """The caller's own valves for a tool."""
    return tools.user_valves(principal, id)


@router.get("/id/{id}/valves/user/spec", response_model=dict[str, Any] | None,
            dependencies=[TOOLS])
def get_user_valves_spec(id: ToolIdPath, principal: VerifiedUser,
                         tools: Tools) -> Any:
    """The JSON schema of a tool's user valves."""
    return tools.user_valves_spec(principal, id)


# -- commands ---------------------------------------------------------------------------------
@router.post("/create", response_model=ToolResponse)
async def create_tool(form: ToolForm, principal: VerifiedUser, request: Request, tools: Tools,
                      written: Write) -> dict[str, Any]:
    """Create a tool from Python code (checked in a sandbox)."""
    outcome = await _sandboxed(request, tools.create, principal, form.to_input())
    written(outcome.position)
    return tool_view(aggregate_row(outcome.value))


@router.post("/id/{id}/update", response_model=ToolModel)
async def update_tool(id: ToolIdPath, form: ToolForm, principal: VerifiedUser, request: Request,
                      tools: Tools, written: Write) -> dict[str, Any]:
    """Replace a tool's code and metadata (checked in a sandbox)."""
    outcome = await _sandboxed(request, tools.update, principal, id,
                               form.to_input(update=True))
    written(outcome.position)
    return tool_view(aggregate_row(outcome.value))


@router.post("/id/{id}/access/update", response_model=ToolModel)
def update_tool_access(id: ToolIdPath, form: AccessGrantsForm, principal: VerifiedUser,
                       tools: Tools, written: Write) -> dict[str, Any]:
    """Replace the tool's access grants."""
    outcome = tools.access_update(principal, id, form.value())
    written(outcome.position)
    return tool_view(aggregate_row(outcome.value))


@router.delete("/id/{id}/delete", response_model=bool)
def delete_tool(id: ToolIdPath, principal: VerifiedUser,
                tools: Tools, written: Write) -> bool:
    """Delete a tool."""
    outcome = tools.delete(principal, id)
    written(outcome.position)
    return True


@router.post("/id/{id}/valves/update", response_model=dict[str, Any] | None)
def update_valves(id: ToolIdPath, form: ValvesBody, principal: VerifiedUser, tools: Tools,
                  written: Write) -> Any:
    """Set a tool's admin valves."""
    outcome = tools.set_valves(principal, id, form)
    written(outcome.position)
    return outcome.value


@router.post("/id/{id}/valves/user/update", response_model=dict[str, Any] | None,
             dependencies=[TOOLS])
def update_user_valves(id: ToolIdPath, form: ValvesBody, principal: VerifiedUser, tools: Tools,
                       written: Write) -> Any:
    """Set the caller's own valves for a tool."""
    outcome = tools.set_user_valves(principal, id, form)
    written(outcome.position)
    return outcome.value


# -- history (each version an event of the tool's stream) ------------------------------------
@router.get("/id/{id}/history", response_model=list[ToolHistoryResponse])
def tool_history(id: ToolIdPath, principal: VerifiedUser, tools: Tools,
                 page: HistoryPage = 1) -> list[dict[str, Any]]:
    """A page of the tool's versions, newest first, with their commit messages."""
    versions = tools.history(principal, id, page)
    names = tools.author_names(versions)
    return [entry_view("tool", id, v, names) for v in versions]


@router.get("/id/{id}/history/diff", response_model=ToolHistoryDiff)
def tool_history_diff(id: ToolIdPath, from_id: HistoryIdQuery, to_id: HistoryIdQuery,
                      principal: VerifiedUser, tools: Tools) -> dict[str, Any]:
    """What changed between two versions of the tool."""
    return tool_diff_view(tools.history_diff(principal, id, from_id, to_id, tool_snapshot))


@router.get("/id/{id}/history/{history_id}", response_model=ToolHistoryModel)
def tool_history_entry(id: ToolIdPath, history_id: HistoryIdPath, principal: VerifiedUser,
                       tools: Tools) -> dict[str, Any]:
    """One version of the tool, with its snapshot."""
    version, tool = tools.history_entry(principal, id, history_id)
    names = tools.author_names([version])
    return {**entry_view("tool", id, version, names), "snapshot": tool_snapshot(tool)}
