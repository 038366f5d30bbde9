"""Annotated dependencies: the container, who is calling, and read-your-writes waits."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import Depends, HTTPException, Request, Response

from application.auth import Principal
from application.context import Actor, set_actor
from application.errors import ApplicationError
from application.messages import Detail
from infrastructure.bootstrap import Container
from infrastructure.metrics import READ_WAIT_TIMEOUTS

POSITION_HEADER = "X-Chronicle-Position"
MIN_POSITION_HEADER = "X-Chronicle-Min-Position"
CONSISTENCY_HEADER = "X-Chronicle-Consistency"


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def credential(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get("token") or request.headers.get("x-api-key") or None


async def current_principal(request: Request, container: ContainerDep) -> Principal:
    token = credential(request)
    if not token:
        raise HTTPException(401, Detail.NOT_AUTHENTICATED)
    try:
        principal = await anyio.to_thread.run_sync(container.auth.authenticate, token)
    except ApplicationError as error:
        raise HTTPException(error.status, error.detail) from None
    request.state.principal = principal
    set_actor(Actor(user_id=principal.id, correlation_id=request.state.correlation_id))
    container.sessions.touch(principal.id)
    return principal


async def verified_principal(principal: Annotated[Principal, Depends(current_principal)]
                             ) -> Principal:
    if principal.role not in ("user", "admin"):
        raise HTTPException(401, Detail.ACCESS_PROHIBITED)
    return principal


async def admin_principal(principal: Annotated[Principal, Depends(current_principal)]
                          ) -> Principal:
    if principal.role != "admin":
        raise HTTPException(401, Detail.ACCESS_PROHIBITED)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
VerifiedUser = Annotated[Principal, Depends(verified_principal)]
AdminUser = Annotated[Principal, Depends(admin_principal)]


def committed(response: Response, container: Container, principal: Principal | None,
              position: int) -> None:
    """Tell the client (and the user's later queries) which log position this write produced."""
    if position:
        response.headers[POSITION_HEADER] = str(position)
        if principal is not None:
            container.sessions.note_write(principal.id, position)


def consistent(*projections: str) -> Any:
    """A dependency that waits (bounded) until `projections` include the caller's own writes."""

    async def wait(request: Request, response: Response, container: ContainerDep) -> None:
        target = _client_position(request)
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is not None:
            target = max(target, container.sessions.last_write(principal.id))
        if target <= 0:
            return
        timeout = container.settings.READ_YOUR_WRITES_TIMEOUT
        caught_up = await anyio.to_thread.run_sync(
            container.host.wait, list(projections), target, timeout)
        response.headers[CONSISTENCY_HEADER] = "consistent" if caught_up else "stale"
        if not caught_up:
            READ_WAIT_TIMEOUTS.inc()

    return Depends(wait)


def _client_position(request: Request) -> int:
    raw = request.headers.get(MIN_POSITION_HEADER) or request.headers.get(POSITION_HEADER) or ""
    return int(raw) if raw.isdigit() else 0
