"""/api/v1/utils: gravatar, code format (admin) and execution (Jupyter), Markdown → HTML,
chat → PDF, and the database download (admin, SQLite only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from interfaces.deps import AdminUser, ContainerDep, VerifiedUser
from interfaces.schemas.utils import (
    EMAIL_MAX_CHARS,
    ChatTitleMessagesForm,
    CodeForm,
    ExecuteForm,
    MarkdownForm,
)

router = APIRouter()


@router.get("/gravatar")
def gravatar(email: Annotated[str, Query(max_length=EMAIL_MAX_CHARS)], principal: VerifiedUser,
             container: ContainerDep) -> str:
    return container.utils.gravatar(email)


@router.post("/code/format")
def format_code(form: CodeForm, principal: AdminUser, container: ContainerDep) -> dict[str, str]:
    return {"code": container.utils.format_code(form.code)}


@router.post("/code/execute")
async def execute_code(form: ExecuteForm, principal: VerifiedUser,
                       container: ContainerDep) -> dict[str, Any]:
    return await container.utils.execute(form.code)


@router.post("/markdown")
def markdown(form: MarkdownForm, principal: VerifiedUser, container: ContainerDep
             ) -> dict[str, str]:
    return {"html": container.utils.markdown(form.md)}


@router.post("/pdf")
def chat_pdf(form: ChatTitleMessagesForm, principal: VerifiedUser,
             container: ContainerDep) -> Response:
    pdf = container.utils.pdf(form.title, form.messages)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": "attachment;filename=chat.pdf"})


@router.get("/db/download")
def download_db(principal: AdminUser, container: ContainerDep) -> FileResponse:
    """A consistent snapshot of the SQLite event store, deleted once it has been sent."""
    snapshot: Path = container.utils.snapshot_database()
    return FileResponse(snapshot, media_type="application/octet-stream", filename="webui.db",
                        background=BackgroundTask(snapshot.unlink, missing_ok=True))
