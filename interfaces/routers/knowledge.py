"""/api/v1/knowledge: knowledge bases (the spec's 6 routes, and the workspace's paged lists of
0.12.4). Reads from the knowledge read model; commands on the KnowledgeBase aggregate (and the
Files they touch), answered from the aggregates."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from application.knowledge import ListQuery
from interfaces.deps import VerifiedUser, Write, consistent
from interfaces.schemas.files import FileModelResponse, file_view
from interfaces.schemas.knowledge import (
    KnowledgeAccessListResponse,
    KnowledgeFileIdForm,
    KnowledgeFileListResponse,
    KnowledgeFilesResponse,
    KnowledgeForm,
    KnowledgeResponse,
    KnowledgeUserResponse,
    knowledge_view,
)
from interfaces.schemas.models import AccessGrantsForm
from interfaces.services import Knowledge

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])
KNOWLEDGE = consistent("knowledge", "files", "groups")  # access depends on groups
Text = Annotated[str | None, Query(max_length=1_000)]
PageParam = Annotated[int | None, Query(ge=1, le=1_000_000)]


@router.get("/", response_model=list[KnowledgeUserResponse], dependencies=[KNOWLEDGE])
def list_knowledge(principal: VerifiedUser, knowledge: Knowledge,
                   page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
                   ) -> list[dict[str, Any]]:
    """The knowledge bases the caller may read."""
    return [knowledge_view(r) for r in knowledge.listing(principal, page)]


@router.get("/search", response_model=KnowledgeAccessListResponse, dependencies=[KNOWLEDGE])
def search_knowledge(principal: VerifiedUser, knowledge: Knowledge, query: Text = None,
                     view_option: Text = None, source: Text = None, order_by: Text = None,
                     direction: Text = None, page: PageParam = 1) -> dict[str, Any]:
    """A page of the knowledge bases the caller may read, by name or description."""
    if source == "external":  # no external sources here
        return {"items": [], "total": 0}
    rows, total = knowledge.search(principal, ListQuery(query, view_option, order_by,
                                                        direction, page or 1))
    return {"items": [knowledge_view(r) for r in rows], "total": total}


@router.get("/search/files", response_model=KnowledgeFileListResponse,
            dependencies=[KNOWLEDGE])
def search_knowledge_files(principal: VerifiedUser, knowledge: Knowledge, query: Text = None,
                           include_content: bool = False, page: PageParam = 1
                           ) -> dict[str, Any]:
    """A page of the files in knowledge bases the caller may read, by filename."""
    rows, total = knowledge.search_files(principal, ListQuery(query, page=page or 1))
    for row in rows:
        if row["collection"] is not None:
            row["collection"] = knowledge_view(row["collection"])
    return {"items": rows, "total": total}


@router.post("/create", response_model=KnowledgeResponse)
def create_knowledge(form: KnowledgeForm, principal: VerifiedUser,
                     knowledge: Knowledge, written: Write) -> dict[str, Any]:
    """Create a knowledge base."""
    outcome = knowledge.create(principal, form.name, form.description, form.access())
    written(outcome.position)
    return knowledge_view(knowledge.view(principal, outcome.value))


@router.get("/{id}", response_model=KnowledgeFilesResponse, dependencies=[KNOWLEDGE])
def get_knowledge(id: str, principal: VerifiedUser, knowledge: Knowledge) -> dict[str, Any]:
    """One knowledge base, with its files."""
    return knowledge_view(knowledge.get(principal, id))


@router.get("/{id}/files", response_model=KnowledgeFileListResponse, dependencies=[KNOWLEDGE])
def knowledge_files(id: str, principal: VerifiedUser, knowledge: Knowledge, query: Text = None,
                    include_content: bool = False, view_option: Text = None,
                    order_by: Text = None, direction: Text = None, directory_id: Text = None,
                    page: PageParam = 1,
                    limit: Annotated[int | None, Query(ge=1, le=1_000)] = None
                    ) -> dict[str, Any]:
    """A page of one knowledge base's files, by filename."""
    rows, total = knowledge.file_page(principal, id, ListQuery(query, view_option, order_by,
                                                               direction, page or 1, limit))
    if directory_id:  # no directories here: a named one holds nothing
        rows, total = [], 0
    return {"items": rows, "directories": [], "breadcrumbs": [], "total": total}


@router.get("/{id}/files/pending", response_model=list[FileModelResponse],
            dependencies=[KNOWLEDGE])
def pending_knowledge_files(id: str, principal: VerifiedUser, knowledge: Knowledge,
                            stream: bool = False) -> Any:
    """Files uploaded into the base that are still processed and not filed yet."""
    rows = [file_view(r) for r in knowledge.pending_files(principal, id)]
    if not stream:
        return rows
    # The stream form (one event, then done: nothing waits here, uploads are filed at once).
    body = json.dumps(jsonable_encoder(rows))
    return StreamingResponse(iter([f"data: {body}\n\n"]), media_type="text/event-stream")


@router.post("/{id}/access/update", response_model=KnowledgeFilesResponse)
def update_knowledge_access(id: str, form: AccessGrantsForm, principal: VerifiedUser,
                            knowledge: Knowledge, written: Write) -> dict[str, Any]:
    """Replace the knowledge base's access grants."""
    outcome = knowledge.access_update(principal, id, form.value())
    written(outcome.position)
    return knowledge_view(outcome.value)


@router.post("/{id}/update", response_model=KnowledgeFilesResponse)
def update_knowledge(id: str, form: KnowledgeForm, principal: VerifiedUser,
                     knowledge: Knowledge, written: Write) -> dict[str, Any]:
    """Rename or redescribe a knowledge base (its grants change through access/update)."""
    outcome = knowledge.update(principal, id, form.name, form.description)
    written(outcome.position)
    return knowledge_view(outcome.value)


@router.delete("/{id}/delete", response_model=bool)
def delete_knowledge(id: str, principal: VerifiedUser,
                     knowledge: Knowledge, written: Write) -> bool:
    """Delete a knowledge base."""
    outcome = knowledge.delete(principal, id)
    written(outcome.position)
    return True


@router.post("/{id}/file/add", response_model=KnowledgeFilesResponse)
def add_file(id: str, form: KnowledgeFileIdForm, principal: VerifiedUser,
             knowledge: Knowledge, written: Write) -> dict[str, Any]:
    """Add a file to a knowledge base."""
    outcome = knowledge.add_file(principal, id, form.file_id)
    written(outcome.position)
    return knowledge_view(outcome.value)


@router.post("/{id}/file/remove", response_model=KnowledgeFilesResponse)
def remove_file(id: str, form: KnowledgeFileIdForm, principal: VerifiedUser,
                knowledge: Knowledge, written: Write, delete_file: bool = True) -> dict[str, Any]:
    """Remove a file from a knowledge base."""
    outcome = knowledge.remove_file(principal, id, form.file_id, delete_file)
    written(outcome.position)
    return knowledge_view(outcome.value)
