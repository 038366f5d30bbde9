"""/api/v1/knowledge: knowledge bases (the spec's 6 routes). Reads from the knowledge read model;
commands on the KnowledgeBase aggregate (and the Files they touch), answered from the aggregates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from interfaces.deps import VerifiedUser, Write, consistent
from interfaces.schemas.knowledge import (
    KnowledgeFileIdForm,
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


@router.get("/", response_model=list[KnowledgeUserResponse], dependencies=[KNOWLEDGE])
def list_knowledge(principal: VerifiedUser, knowledge: Knowledge,
                   page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
                   ) -> list[dict[str, Any]]:
    """The knowledge bases the caller may read."""
    return [knowledge_view(r) for r in knowledge.listing(principal, page)]


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


@router.post("/{id}/access/update", response_model=KnowledgeFilesResponse)
def update_knowledge_access(id: str, form: AccessGrantsForm, principal: VerifiedUser,
                            knowledge: Knowledge, written: Write) -> dict[str, Any]:
    """Replace the knowledge base's access grants."""
    outcome = knowledge.access_update(principal, id, form.value())
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
