"""/api/v1/tasks: the admin's task-model settings and the task completions the web app asks for
after a reply (a title, tags, follow-up questions, search queries)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from application.llm import UpstreamError
from application.task_models import TASKS, TaskModels
from interfaces.deps import AdminUser, VerifiedUser, Write
from interfaces.routers.completions import upstream_failure
from interfaces.schemas.tasks import TaskConfigForm
from interfaces.services import TaskModelsDep

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


Tasks = TaskModelsDep


@router.get("/config")
def get_task_config(principal: VerifiedUser, tasks: Tasks) -> dict[str, Any]:
    """The task model and which task completions are on."""
    return tasks.settings()


@router.post("/config/update")
def update_task_config(form: TaskConfigForm, principal: AdminUser, written: Write,
                       tasks: Tasks) -> dict[str, Any]:
    """Save the task model and which task completions are on."""
    outcome = tasks.update(form.model_dump())
    written(outcome.position)
    return outcome.value


async def _complete(kind: str, principal: Any, tasks: TaskModels, body: dict[str, Any]) -> Any:
    if not tasks.enabled(kind):
        return JSONResponse({"detail": f"{TASKS[kind].name} generation is disabled"})
    messages = body.get("messages")
    try:
        return await tasks.ask(principal, kind, body.get("model"),
                               messages if isinstance(messages, list) else [])
    except UpstreamError as error:
        return upstream_failure(error)


@router.post("/title/completions", response_model=None)
async def title_completion(principal: VerifiedUser, tasks: Tasks,
                           body: Annotated[dict[str, Any], Body()]) -> Any:
    """A title for a conversation, from the task model."""
    return await _complete("title", principal, tasks, body)


@router.post("/tags/completions", response_model=None)
async def tags_completion(principal: VerifiedUser, tasks: Tasks,
                          body: Annotated[dict[str, Any], Body()]) -> Any:
    """Tags for a conversation, from the task model."""
    return await _complete("tags", principal, tasks, body)


@router.post("/follow_up/completions", response_model=None)
async def follow_up_completion(principal: VerifiedUser, tasks: Tasks,
                               body: Annotated[dict[str, Any], Body()]) -> Any:
    """Follow-up questions for a conversation, from the task model."""
    return await _complete("follow_up", principal, tasks, body)


@router.post("/queries/completions", response_model=None)
async def queries_completion(principal: VerifiedUser, tasks: Tasks,
                             body: Annotated[dict[str, Any], Body()]) -> Any:
    """Search queries for a conversation's last message, from the task model."""
    return await _complete("queries", principal, tasks, body)
