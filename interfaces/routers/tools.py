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
from fastapi import APIRouter, Body, Path, Query, Request, Response

from application.tools import aggregate_row
from interfaces.deps import ContainerDep, VerifiedUser, committed, consistent
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

router = APIRouter()
TOOLS = consistent("tools")
SANDBOX_SLOTS = 2  # concurrent source analyses (each a subprocess of up to 512 MB)

ToolIdPath = Annotated[str, Path(max_length=ID_MAX_CHARS)]
ValvesBody = Annotated[Valves, Body()]
T = TypeVar("T")


async def _sandboxed(request: Request, call: Callable[..., T], *args: Any) -> T:
    state = request.app.state
    if getattr(state, "tool_sandbox", None) is None:
        state.tool_sandbox = anyio.CapacityLimiter(SANDBOX_SLOTS)
    return await anyio.to_thread.run_sync(call, *args, limiter=state.tool_sandbox)


# -- reads ------------------------------------------------------------------------------------
@router.get("/", response_model=list[ToolUserResponse], dependencies=[TOOLS])
def list_tools(principal: VerifiedUser, container: ContainerDep,
               query: Annotated[QueryText | None, Query()] = None) -> list[dict[str, Any]]:
    return [tool_view(r) for r in container.tools.listing(principal, query)]


@router.get("/id/{id}", response_model=ToolAccessResponse, dependencies=[TOOLS])
def get_tool(id: ToolIdPath, principal: VerifiedUser, container: ContainerDep) -> dict[str, Any]:
    return tool_view(container.tools.get(principal, id))


@router.get("/id/{id}/valves", response_model=dict[str, Any] | None, dependencies=[TOOLS])
def get_valves(id: ToolIdPath, principal: VerifiedUser, container: ContainerDep) -> Any:
    return container.tools.valves(principal, id)


@router.get("/id/{id}/valves/spec", response_model=dict[str, Any] | None, dependencies=[TOOLS])
def get_valves_spec(id: ToolIdPath, principal: VerifiedUser, container: ContainerDep) -> Any:
    return container.tools.valves_spec(principal, id)


@router.get("/id/{id}/valves/user", response_model=dict[str, Any] | None, dependencies=[TOOLS])
def get_user_valves(id: ToolIdPath, principal: VerifiedUser, container: ContainerDep) -> Any:
    return container.tools.user_valves(principal, id)


@router.get("/id/{id}/valves/user/spec", response_model=dict[str, Any] | None,
            dependencies=[TOOLS])
def get_user_valves_spec(id: ToolIdPath, principal: VerifiedUser,
                         container: ContainerDep) -> Any:
    return container.tools.user_valves_spec(principal, id)


# -- commands ---------------------------------------------------------------------------------
@router.post("/create", response_model=ToolResponse)
async def create_tool(form: ToolForm, principal: VerifiedUser, request: Request,
                      response: Response, container: ContainerDep) -> dict[str, Any]:
    outcome = await _sandboxed(request, container.tools.create, principal, form.to_input())
    committed(response, container, principal, outcome.position)
    return tool_view(aggregate_row(outcome.value))


@router.post("/id/{id}/update", response_model=ToolModel)
async def update_tool(id: ToolIdPath, form: ToolForm, principal: VerifiedUser, request: Request,
                      response: Response, container: ContainerDep) -> dict[str, Any]:
    outcome = await _sandboxed(request, container.tools.update, principal, id,
                                   form.to_input(update=True))
    committed(response, container, principal, outcome.position)
    return tool_view(aggregate_row(outcome.value))


@router.post("/id/{id}/access/update", response_model=ToolModel)
def update_tool_access(id: ToolIdPath, form: AccessGrantsForm, principal: VerifiedUser,
                       response: Response, container: ContainerDep) -> dict[str, Any]:
    """Replace the tool's access grants."""
    outcome = container.tools.access_update(principal, id, form.value())
    committed(response, container, principal, outcome.position)
    return tool_view(aggregate_row(outcome.value))


@router.delete("/id/{id}/delete", response_model=bool)
def delete_tool(id: ToolIdPath, principal: VerifiedUser, response: Response,
                container: ContainerDep) -> bool:
    outcome = container.tools.delete(principal, id)
    committed(response, container, principal, outcome.position)
    return True


@router.post("/id/{id}/valves/update", response_model=dict[str, Any] | None)
def update_valves(id: ToolIdPath, form: ValvesBody, principal: VerifiedUser,
                  response: Response, container: ContainerDep) -> Any:
    outcome = container.tools.set_valves(principal, id, form)
    committed(response, container, principal, outcome.position)
    return outcome.value


@router.post("/id/{id}/valves/user/update", response_model=dict[str, Any] | None,
             dependencies=[TOOLS])
def update_user_valves(id: ToolIdPath, form: ValvesBody, principal: VerifiedUser,
                       response: Response, container: ContainerDep) -> Any:
    outcome = container.tools.set_user_valves(principal, id, form)
    committed(response, container, principal, outcome.position)
    return outcome.value
