"""/api/v1/files: uploads, lists, search, content and processing status (the spec's 11 routes).

Reads come from the files read model; commands answer from the File aggregate. Bytes are served
from the content-addressed storage; the file name only ever appears in Content-Disposition.
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Form, Query, Request, Response, UploadFile
from fastapi import File as FileField
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute

from application.errors import BadRequest
from application.files import FileService
from application.messages import Detail
from interfaces import bounds
from interfaces.deps import AdminUser, VerifiedUser, Write, consistent
from interfaces.schemas.files import (
    FILENAME_PATTERN_MAX,
    METADATA_MAX_BYTES,
    ContentForm,
    FileModel,
    FileModelResponse,
    MessageResponse,
    aggregate_row,
    file_view,
)
from interfaces.services import Files, Knowledge

router = APIRouter(prefix="/api/v1/files", tags=["files"])
FILES = consistent("files", "knowledge", "groups")  # access depends on groups
READ_CHUNK = 1 << 20
MULTIPART_SLACK = 1 << 20  # form framing and the other fields, beyond the file's own bytes
STREAM_POLL = 0.5
STREAM_MAX_SECONDS = 2 * 3600  # the reference's MAX_FILE_PROCESSING_DURATION


class UploadRoute(APIRoute):
    """Refuses an upload whose declared length is over the limit before reading the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            length = request.headers.get("content-length", "")
            container = request.app.state.container
            if container is not None and length.isdigit():
                config = await anyio.to_thread.run_sync(container.retrieval.rag_config)
                limit = container.retrieval.max_file_bytes()  # cached by the call above
                if limit is not None and int(length) > limit + MULTIPART_SLACK:
                    detail = Detail.FILE_TOO_LARGE(f"{config.get('FILE_MAX_SIZE')}MB")
                    return JSONResponse({"detail": detail}, status_code=413)
            return await handler(request)

        return guarded


def _metadata(raw: str | None) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    if len(raw.encode()) > METADATA_MAX_BYTES:
        raise BadRequest(Detail.DEFAULT("Invalid metadata format"))
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadRequest(Detail.DEFAULT("Invalid metadata format")) from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(Detail.DEFAULT("Invalid metadata format"))
    return value


# -- upload -----------------------------------------------------------------------------------
def upload_file(principal: VerifiedUser, files: Files, knowledge: Knowledge, written: Write,
                file: Annotated[UploadFile, FileField()],
                metadata: Annotated[str | None, Form()] = None, process: bool = True,
                process_in_background: bool = True) -> dict[str, Any]:
    """Upload a file and (by default) extract and index its text."""
    meta = _metadata(metadata)
    outcome = files.upload(principal, file.filename, file.content_type,
                           iter(lambda: file.file.read(READ_CHUNK), b""), meta,
                           process=process, background=process_in_background)
    written(outcome.position)
    aggregate = outcome.value
    if linked := knowledge.link_upload(principal, aggregate):  # uploaded from a knowledge base
        written(linked)
    text = None  # processed inline: the answer carries the text, as the reference
    if not process_in_background and aggregate.status == "completed":
        text = _text(files, aggregate.text_hash)
    return file_view(aggregate_row(aggregate, text))


router.add_api_route("/", upload_file, methods=["POST"], response_model=FileModelResponse,
                     route_class_override=UploadRoute, summary="Upload File")


def _text(files: FileService, text_hash: str | None) -> str | None:
    if not text_hash:
        return None
    try:
        return str(files.storage.get(text_hash).decode("utf-8"))
    except (OSError, ValueError):
        return None


# -- lists ------------------------------------------------------------------------------------
@router.get("/", response_model=list[FileModelResponse], dependencies=[FILES])
def list_files(principal: VerifiedUser, files: Files,
               content: bool = True) -> list[dict[str, Any]]:
    """The caller's files (with or without their text)."""
    return [file_view(r) for r in files.listing(principal, content)]


@router.get("/search", response_model=list[FileModelResponse], dependencies=[FILES])
def search_files(principal: VerifiedUser, files: Files,
                 filename: Annotated[str, Query(min_length=1, max_length=FILENAME_PATTERN_MAX)],
                 content: bool = True, skip: Annotated[bounds.Offset, Query()] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The caller's files whose name matches a pattern, paged."""
    rows = files.search(principal, filename, content, skip, limit)
    return [file_view(r) for r in rows]


@router.delete("/all", response_model=MessageResponse)
def delete_all_files(principal: AdminUser,
                     files: Files, written: Write) -> dict[str, str]:
    """Delete every file (admins)."""
    outcome = files.delete_all()
    written(outcome.position)
    return {"message": "All files deleted successfully"}


# -- one file ---------------------------------------------------------------------------------
@router.get("/{id}", response_model=FileModel, dependencies=[FILES])
def get_file(id: str, principal: VerifiedUser, files: Files) -> dict[str, Any]:
    """One file's record."""
    return file_view(files.get(principal, id))


def _send(files: FileService, row: dict[str, Any], attachment: bool,
          media_type: str | None = None) -> Response:
    name = str(row["meta"].get("name") or row["filename"])
    content_type = media_type or row["meta"].get("content_type") or row.get("content_type") \
        or "application/octet-stream"
    encoded = quote(name)
    headers: dict[str, str] = {}
    if attachment:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{encoded}"
    elif media_type is None:
        if content_type == "application/pdf" or name.lower().endswith(".pdf"):
            headers["Content-Disposition"] = f"inline; filename*=UTF-8''{encoded}"
            content_type = "application/pdf"
        elif content_type != "text/plain":
            headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{encoded}"
    storage = files.storage
    path = storage.local_path(row["content_hash"])
    if path is not None:
        return FileResponse(path, media_type=content_type, headers=headers)

    def chunks() -> Any:
        with storage.open(row["content_hash"]) as handle:
            while chunk := handle.read(READ_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type=content_type, headers=headers)


@router.get("/{id}/content", dependencies=[FILES])
def get_file_content(id: str, principal: VerifiedUser, files: Files,
                     attachment: bool = False) -> Response:
    """A file's bytes (inline, or as an attachment)."""
    return _send(files, files.content(principal, id), attachment)


@router.get("/{id}/content/html", dependencies=[FILES])
def get_html_file_content(id: str, principal: VerifiedUser, files: Files) -> Response:
    """A file's bytes served as HTML."""
    row = files.html(principal, id)
    guessed = mimetypes.guess_type(str(row["filename"]))[0]
    return _send(files, row, False, media_type=guessed or "text/html")


@router.get("/{id}/data/content", dependencies=[FILES])
def get_file_data_content(id: str, principal: VerifiedUser,
                          files: Files) -> dict[str, Any]:
    """A file's extracted text."""
    return files.data_content(principal, id)


@router.post("/{id}/data/content/update")
def update_file_data_content(id: str, form: ContentForm, principal: VerifiedUser, files: Files,
                             written: Write) -> dict[str, Any]:
    """Replace a file's extracted text (and re-index it)."""
    outcome = files.update_content(principal, id, form.content)
    written(outcome.position)
    return outcome.value


@router.get("/{id}/process/status", dependencies=[FILES])
async def get_file_process_status(id: str, principal: VerifiedUser, files: Files,
                                  stream: bool = False) -> Any:
    """A file's processing status, once or as server-sent events."""
    row = await anyio.to_thread.run_sync(files.row, principal, id)
    if not stream:
        return await anyio.to_thread.run_sync(files.status_of, row)
    return StreamingResponse(_status_events(files, id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _status_events(files: FileService, file_id: str) -> AsyncIterator[str]:
    """An event per status change, until completed or failed (or the file is gone)."""
    last: dict[str, Any] | None = None
    deadline = time.monotonic() + STREAM_MAX_SECONDS
    while time.monotonic() < deadline:
        row = await anyio.to_thread.run_sync(files.files.get, file_id)
        if row is None:
            yield f"data: {json.dumps({'status': 'not_found'})}\n\n"
            return
        status = await anyio.to_thread.run_sync(files.status_of, row, STREAM_POLL)
        if status != last:
            yield f"data: {json.dumps(status)}\n\n"
            last = status
        if status["status"] in ("completed", "failed"):
            return
        await anyio.sleep(STREAM_POLL)


@router.delete("/{id}", response_model=MessageResponse)
def delete_file(id: str, principal: VerifiedUser,
                files: Files, written: Write) -> dict[str, str]:
    """Delete a file."""
    outcome = files.delete(principal, id)
    written(outcome.position)
    return {"message": "File deleted successfully"}
