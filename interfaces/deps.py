"""Annotated dependencies: the container, who is calling, the position a command route wrote
(`Write`) and read-your-writes waits. The use cases themselves: interfaces/services.py."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import Depends, HTTPException, Request, Response

from application.auth import Principal
from application.context import Actor, set_actor
from application.errors import ApplicationError
from application.messages import Detail
from application.ports import SessionStore
from infrastructure.metrics import READ_WAIT_TIMEOUTS
from interfaces.composition.container import Container

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


API_KEY_WAIT_SECONDS = 1.0  # an unknown API key may be one created a moment ago


async def current_principal(request: Request, container: ContainerDep) -> Principal:
    token = credential(request)
    if not token:
        raise HTTPException(401, Detail.NOT_AUTHENTICATED)
    is_api_key = token.startswith("sk-")
    if is_api_key and container.config.get("ENABLE_API_KEYS"):
        _check_api_key_endpoint(request, container)
    try:
        if is_api_key:
            principal = await anyio.to_thread.run_sync(container.auth.authenticate, token)
        else:  # the common case, on the loop: one session-store round trip, which also touches
            principal = await container.auth.authenticate_session(token)
    except ApplicationError as error:
        if is_api_key and error.status == 401:
            principal = await _retry_api_key(container, token)
        else:
            raise _auth_error(error, from_jwt=not is_api_key) from None
    request.state.principal = principal
    set_actor(Actor(user_id=principal.id, correlation_id=request.state.correlation_id))
    if is_api_key:
        await anyio.to_thread.run_sync(container.sessions.touch, principal.id)
    return principal


def _auth_error(error: ApplicationError, from_jwt: bool) -> HTTPException:
    """A rejected JWT also clears the `token` cookie, so a browser stops sending it. The
    error's own headers stay (Retry-After when the database is away)."""
    headers = dict(error.headers or {})
    if from_jwt and error.status == 401:
        headers["set-cookie"] = ('token=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; '
                                 'Path=/; SameSite=lax')
    return HTTPException(error.status, error.detail, headers=headers or None)


async def _retry_api_key(container: Container, token: str) -> Principal:
    """Keys are found through the users read model: give it a moment to catch up with the log."""
    head = container.store.head()
    await anyio.to_thread.run_sync(container.host.wait, ["users"], head, API_KEY_WAIT_SECONDS)
    try:
        return await anyio.to_thread.run_sync(container.auth.authenticate, token)
    except ApplicationError as error:
        raise _auth_error(error, from_jwt=False) from None


def _check_api_key_endpoint(request: Request, container: Container) -> None:
    if not container.config.get("ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS"):
        return
    allowed = [p.strip().rstrip("/") for p in
               str(container.config.get("API_KEYS_ALLOWED_ENDPOINTS") or "").split(",")]
    path = request.url.path.rstrip("/")
    if not any(p and (path == p or path.startswith(p + "/")) for p in allowed):
        raise HTTPException(403, Detail.ACCESS_PROHIBITED)


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


_CALLER = object()  # "the principal this request authenticated as", when none is passed


class Written:
    """A command route's writes: each sets `X-Chronicle-Position` on the response and becomes
    the caller's last write, which later reads of theirs wait for (`consistent`).

    The one place that bookkeeping happens. By default the writer is whoever the request
    authenticated as; sign-up and sign-in pass `None` (nobody is signed in yet).
    """

    def __init__(self, request: Request, response: Response):
        self.request, self.response = request, response
        self.sessions = get_container(request).sessions

    def __call__(self, position: int, principal: Principal | None | object = _CALLER) -> None:
        record_write(self.response, self.sessions, self._writer(principal), position)

    async def noted(self, position: int, principal: Principal | None | object = _CALLER
                    ) -> None:
        """From an async route: a Redis session store is noted on a thread, a memory one on
        the loop (a thread hop would cost more than the dict write)."""
        if self.sessions.blocking:
            await anyio.to_thread.run_sync(self, position, principal)
        else:
            self(position, principal)

    def _writer(self, principal: Principal | None | object) -> Principal | None:
        if principal is _CALLER:
            return getattr(self.request.state, "principal", None)
        return principal if isinstance(principal, Principal) else None


async def _written(request: Request, response: Response) -> Written:
    # A coroutine, so building it costs no worker-thread hop (a class dependency would).
    return Written(request, response)


Write = Annotated[Written, Depends(_written)]


def record_write(response: Response, sessions: SessionStore, writer: Principal | None,
                 position: int) -> None:
    """The bookkeeping itself; a position of 0 means nothing was written."""
    if position:
        response.headers[POSITION_HEADER] = str(position)
        if writer is not None:
            sessions.note_write(writer.id, position)


def consistent(*projections: str) -> Any:
    """A dependency that waits (bounded) until `projections` include the caller's own writes."""

    # Route-level dependencies run before the endpoint's own: depending on the principal here
    # (cached per request) is what makes the caller's own last write known to the wait.
    async def wait(request: Request, response: Response, container: ContainerDep,
                   principal: Annotated[Principal, Depends(current_principal)]) -> None:
        target = max(_client_position(request), principal.last_write if principal.via == "session"
                     else await anyio.to_thread.run_sync(container.sessions.last_write,
                                                         principal.id))
        if target <= 0:
            return
        # Known to be caught up: no thread hop (a completion's first token waits for this).
        caught_up = all(container.host.position(p) >= target for p in projections) or \
            await anyio.to_thread.run_sync(container.host.wait, list(projections), target,
                                           container.settings.READ_YOUR_WRITES_TIMEOUT)
        response.headers[CONSISTENCY_HEADER] = "consistent" if caught_up else "stale"
        if not caught_up:
            READ_WAIT_TIMEOUTS.inc()

    return Depends(wait)


def _client_position(request: Request) -> int:
    raw = request.headers.get(MIN_POSITION_HEADER) or request.headers.get(POSITION_HEADER) or ""
    return int(raw) if raw.isdigit() else 0


def client_info(request: Request) -> dict[str, str | None]:
    """Where a request came from, for the sign-in audit stream."""
    return {"ip": request.client.host if request.client else None,
            "user_agent": request.headers.get("user-agent")}
