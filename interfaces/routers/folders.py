"""/api/v1/folders: the folder endpoints Open WebUI's client uses (chats are filed through
POST /api/v1/chats/{id}/folder)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from interfaces.deps import ContainerDep, VerifiedUser, committed, consistent
from interfaces.schemas.folders import (
    FolderForm,
    FolderIsExpandedForm,
    FolderNameIdResponse,
    FolderParentIdForm,
    FolderResponse,
    FolderUpdateForm,
    folder_item,
    folder_response,
)

router = APIRouter()
FOLDERS = consistent("folders")
FOLDERS_AND_CHATS = consistent("folders", "chats")


@router.get("/", response_model=list[FolderNameIdResponse], dependencies=[FOLDERS])
def list_folders(principal: VerifiedUser, container: ContainerDep) -> list[dict[str, Any]]:
    return [folder_item(row) for row in container.folders.list_folders(principal)]


@router.post("/", response_model=FolderResponse, dependencies=[FOLDERS])
def create_folder(form: FolderForm, principal: VerifiedUser, response: Response,
                  container: ContainerDep) -> dict[str, Any]:
    outcome = container.folders.create(principal, form.name, form.parent_id, form.data,
                                       form.meta)
    committed(response, container, principal, outcome.position)
    return folder_response(outcome.value)


@router.get("/{id}", response_model=FolderResponse)
def get_folder(id: str, principal: VerifiedUser, container: ContainerDep) -> dict[str, Any]:
    return folder_response(container.folders.own(principal, id))


@router.post("/{id}/update", response_model=FolderResponse, dependencies=[FOLDERS])
def update_folder(id: str, form: FolderUpdateForm, principal: VerifiedUser, response: Response,
                  container: ContainerDep) -> dict[str, Any]:
    outcome = container.folders.update(principal, id, form.name, form.data, form.meta)
    committed(response, container, principal, outcome.position)
    return folder_response(outcome.value)


@router.post("/{id}/update/parent", response_model=FolderResponse, dependencies=[FOLDERS])
def move_folder(id: str, form: FolderParentIdForm, principal: VerifiedUser, response: Response,
                container: ContainerDep) -> dict[str, Any]:
    outcome = container.folders.move(principal, id, form.parent_id)
    committed(response, container, principal, outcome.position)
    return folder_response(outcome.value)


@router.post("/{id}/update/expanded", response_model=FolderResponse)
def expand_folder(id: str, form: FolderIsExpandedForm, principal: VerifiedUser,
                  response: Response, container: ContainerDep) -> dict[str, Any]:
    outcome = container.folders.set_expanded(principal, id, form.is_expanded)
    committed(response, container, principal, outcome.position)
    return folder_response(outcome.value)


@router.delete("/{id}", response_model=bool, dependencies=[FOLDERS_AND_CHATS])
def delete_folder(id: str, principal: VerifiedUser, response: Response, container: ContainerDep,
                  delete_contents: bool | None = True) -> bool:
    outcome = container.folders.delete(principal, id, delete_contents is not False)
    committed(response, container, principal, outcome.position)
    return True
