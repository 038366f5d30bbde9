"""/api/v1/utils: gravatar, code format (admin) and execution (Jupyter), Markdown → HTML,
chat → PDF, and the database download (admin, SQLite only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from interfaces.deps import AdminUser, VerifiedUser
from interfaces.schemas.utils import (
    EMAIL_MAX_CHARS,
    ChatTitleMessagesForm,
    CodeForm,
    ExecuteForm,
    MarkdownForm,
)
from interfaces.services import Utils

router = APIRouter(prefix="/api/v1/utils", tags=["utils"])


@router.get("/gravatar")
def gravatar(email: Annotated[str, Query(max_length=EMAIL_MAX_CHARS)], principal: VerifiedUser,
             utils: Utils) -> str:
    """The Gravatar URL for an email address."""
    return utils.gravatar(email)


@router.post("/code/format")
def format_code(form: CodeForm, principal: AdminUser, utils: Utils) -> dict[str, str]:
    """Format Python code with Black."""
    return {"code": utils.format_code(form.code)}


@router.post("/code/execute")
async def execute_code(form: ExecuteForm, principal: VerifiedUser,
                       utils: Utils) -> dict[str, Any]:
    """Run code on the configured Jupyter server."""
    return await utils.execute(form.code)


@router.post("/markdown")
def markdown(form: MarkdownForm, principal: VerifiedUser, utils: Utils
             ) -> dict[str, str]:
    """Render Markdown to HTML."""
    return {"html": utils.markdown(form.md)}


@router.post("/pdf")
def chat_pdf(form: ChatTitleMessagesForm, principal: VerifiedUser,
             utils: Utils) -> Response:
    """Render a chat's messages as a PDF."""
    pdf = utils.pdf(form.title, form.messages)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": "attachment;filename=chat.pdf"})


@router.get("/db/download")
def download_db(principal: AdminUser, utils: Utils) -> FileResponse:
    """A consistent snapshot of the SQLite event store, deleted once it has been sent."""
    snapshot: Path = utils.snapshot_database()
    return FileResponse(snapshot, media_type="application/octet-stream", filename="webui.db",
                        background=BackgroundTask(snapshot.unlink, missing_ok=True))
