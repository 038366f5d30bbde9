"""/api/v1/knowledge: knowledge bases (the spec's 6 routes). Reads from the knowledge read model;
commands on the KnowledgeBase aggregate (and the Files they touch), answered from the aggregates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from interfaces.deps import ContainerDep, VerifiedUser, committed, consistent
from interfaces.schemas.knowledge import (
    KnowledgeFileIdForm,
    KnowledgeFilesResponse,
    KnowledgeForm,
    KnowledgeResponse,
    KnowledgeUserResponse,
    knowledge_view,
)
from interfaces.schemas.models import AccessGrantsForm

router = APIRouter()
KNOWLEDGE = consistent("knowledge", "files")


@router.get("/", response_model=list[KnowledgeUserResponse], dependencies=[KNOWLEDGE])
def list_knowledge(principal: VerifiedUser, container: ContainerDep,
                   page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
                   ) -> list[dict[str, Any]]:
    return [knowledge_view(r) for r in container.knowledge.listing(principal, page)]


@router.post("/create", response_model=KnowledgeResponse)
def create_knowledge(form: KnowledgeForm, principal: VerifiedUser, response: Response,
                     container: ContainerDep) -> dict[str, Any]:
    outcome = container.knowledge.create(principal, form.name, form.description, form.access())
    committed(response, container, principal, outcome.position)
    return knowledge_view(container.knowledge.view(principal, outcome.value))


@router.get("/{id}", response_model=KnowledgeFilesResponse, dependencies=[KNOWLEDGE])
def get_knowledge(id: str, principal: VerifiedUser, container: ContainerDep) -> dict[str, Any]:
    return knowledge_view(container.knowledge.get(principal, id))


@router.post("/{id}/access/update", response_model=KnowledgeFilesResponse)
def update_knowledge_access(id: str, form: AccessGrantsForm, principal: VerifiedUser,
                            response: Response, container: ContainerDep) -> dict[str, Any]:
    """Replace the knowledge base's access grants."""
    outcome = container.knowledge.access_update(principal, id, form.value())
    committed(response, container, principal, outcome.position)
    return knowledge_view(outcome.value)


@router.delete("/{id}/delete", response_model=bool)
def delete_knowledge(id: str, principal: VerifiedUser, response: Response,
                     container: ContainerDep) -> bool:
    outcome = container.knowledge.delete(principal, id)
    committed(response, container, principal, outcome.position)
    return True


@router.post("/{id}/file/add", response_model=KnowledgeFilesResponse)
def add_file(id: str, form: KnowledgeFileIdForm, principal: VerifiedUser, response: Response,
             container: ContainerDep) -> dict[str, Any]:
    outcome = container.knowledge.add_file(principal, id, form.file_id)
    committed(response, container, principal, outcome.position)
    return knowledge_view(outcome.value)


@router.post("/{id}/file/remove", response_model=KnowledgeFilesResponse)
def remove_file(id: str, form: KnowledgeFileIdForm, principal: VerifiedUser, response: Response,
                container: ContainerDep, delete_file: bool = True) -> dict[str, Any]:
    outcome = container.knowledge.remove_file(principal, id, form.file_id, delete_file)
    committed(response, container, principal, outcome.position)
    return knowledge_view(outcome.value)
