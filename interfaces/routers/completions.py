"""/api/models and /api/chat/*: the model picker's list and chat completions for REST clients
(Open WebUI 0.12.4's main-level routes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from application.errors import NotFound
from application.llm import UpstreamError
from application.replies import Emit
from interfaces.deps import AdminUser, VerifiedUser, consistent
from interfaces.services import Completions, Replies

router = APIRouter(prefix="/api", tags=["chat"])
MODELS = consistent("models", "groups")  # who sees what depends on groups
# A preset or knowledge base made just before the completion that uses it is seen by it.
GROUNDED = consistent("models", "knowledge", "files", "groups")
STREAM_FAILED = {"error": {"message": "Chat completion stream failed"}}


async def socket_emit(request: Request) -> Emit:
    """Emits through this process's Socket.IO server (its Redis manager reaches every worker);
    without one (an app served bare, in tests), nobody can be listening."""
    realtime = getattr(request.app.state, "realtime", None)

    async def emit(event: str, data: dict[str, Any], room: str) -> None:
        if realtime is not None:
            await realtime.sio.emit(event, data, room=room)

    return emit


SocketEmit = Annotated[Emit, Depends(socket_emit)]


def upstream_failure(error: UpstreamError) -> JSONResponse:
    """The upstream's status and message (and its own error object, as 0.12.4 passes it on)."""
    status = error.status if 400 <= error.status < 600 else 502
    body: dict[str, Any] = {"detail": error.message}
    if isinstance(error.body, dict) and "error" in error.body:
        body["error"] = error.body["error"]
    return JSONResponse(body, status_code=status)


@router.get("/models", dependencies=[MODELS])
async def list_models(principal: VerifiedUser, completions: Completions) -> dict[str, Any]:
    """The models the caller may chat with: every enabled connection's, and workspace presets."""
    return {"data": await completions.catalog.models(principal)}


@router.get("/models/base", dependencies=[MODELS])
async def list_base_models(principal: AdminUser, completions: Completions) -> dict[str, Any]:
    """Every enabled connection's models, before workspace settings (admins)."""
    return {"data": await completions.catalog.base_models()}


def _sse(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def _relay(first: dict[str, Any], rest: AsyncIterator[dict[str, Any]],
                 found: dict[str, Any], done: Callable[[Any, str | None], Awaitable[None]]
                 ) -> AsyncIterator[bytes]:
    if found:
        yield _sse(found)  # the sources first, as 0.12.4 sends them
    yield _sse(first)
    usage, error = first.get("usage"), None
    try:
        async for chunk in rest:
            usage = chunk.get("usage") or usage
            yield _sse(chunk)
    except UpstreamError as failure:
        error = failure.message
        yield _sse(STREAM_FAILED)  # the status is sent already: say so in the stream
    yield b"data: [DONE]\n\n"
    await done(usage, error)


@router.post("/chat/completions", response_model=None, dependencies=[GROUNDED])
async def chat_completions(principal: VerifiedUser, completions: Completions, replies: Replies,
                           emit: SocketEmit, body: Annotated[dict[str, Any], Body()]
                           ) -> dict[str, Any] | JSONResponse | StreamingResponse:
    """An OpenAI-compatible chat completion (a `chat.completion`, or server-sent chunks); with
    the web app's `chat_id`, `id` and `session_id`, the task id at once and the reply recorded
    in the chat and streamed to the user's sockets."""
    if replies.wanted(body):
        return await replies.start(principal, body, emit)
    connection, upstream, sources = await completions.prepare(principal, body)
    found = {"sources": sources} if sources else {}  # 0.12.4: before the answer's own fields
    model, streamed = str(body["model"]), bool(body.get("stream"))

    async def done(usage: Any, error: str | None) -> None:
        await completions.record(principal, model, usage, streamed, error)

    try:
        if not streamed:
            answer = await completions.complete(connection, upstream)
            await done(answer.get("usage"), None)
            return {**found, **answer}
        chunks = completions.stream(connection, upstream).__aiter__()
        first = await chunks.__anext__()
    except UpstreamError as error:
        await done(None, error.message)
        return upstream_failure(error)
    except StopAsyncIteration:
        await done(None, None)
        return StreamingResponse(iter([*([_sse(found)] if found else []), b"data: [DONE]\n\n"]),
                                 media_type="text/event-stream")
    return StreamingResponse(_relay(first, chunks, found, done), media_type="text/event-stream")


@router.post("/chat/completed")
async def chat_completed(principal: VerifiedUser,
                         body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """After a reply: no server-side filters run here, so the message comes back as sent."""
    body.pop("model_item", None)
    return body


# -- tasks: the replies running ---------------------------------------------------------------
@router.get("/tasks/chat/{chat_id}")
async def chat_tasks(chat_id: str, principal: VerifiedUser, replies: Replies) -> dict[str, Any]:
    """The replies running in one of the caller's chats."""
    return {"task_ids": await replies.of_chat(principal, chat_id)}


@router.post("/tasks/chat/{chat_id}/stop")
async def stop_chat_tasks(chat_id: str, principal: VerifiedUser, replies: Replies
                          ) -> dict[str, Any]:
    """Stop every reply running in one of the caller's chats; what arrived is kept."""
    stopped = await replies.stop_chat(principal, chat_id)
    if not stopped:
        return {"status": True, "message": "No tasks found."}
    return {"status": True, "message": f"Task {stopped[-1]} stopped."}


@router.post("/tasks/stop/{task_id}")
async def stop_task(task_id: str, principal: AdminUser, replies: Replies) -> dict[str, Any]:
    """Stop one reply (admins, as 0.12.4)."""
    if not await replies.stop(principal, task_id):
        raise NotFound(f"Task with ID {task_id} not found.")
    return {"status": True, "message": f"Task {task_id} stopped."}
