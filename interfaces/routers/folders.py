"""/api/v1/folders: the folder endpoints Open WebUI's client uses (chats are filed through
POST /api/v1/chats/{id}/folder)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import VerifiedUser, Write, consistent
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
from interfaces.services import Folders

router = APIRouter(prefix="/api/v1/folders", tags=["folders"])
FOLDERS = consistent("folders")
FOLDERS_AND_CHATS = consistent("folders", "chats")


@router.get("/", response_model=list[FolderNameIdResponse], dependencies=[FOLDERS])
def list_folders(principal: VerifiedUser, folders: Folders) -> list[dict[str, Any]]:
    """The caller's folders."""
    return [folder_item(row) for row in folders.list_folders(principal)]


@router.post("/", response_model=FolderResponse, dependencies=[FOLDERS])
def create_folder(form: FolderForm, principal: VerifiedUser,
                  folders: Folders, written: Write) -> dict[str, Any]:
    """Create a folder."""
    outcome = folders.create(principal, form.name, form.parent_id, form.data,
                             form.meta)
    written(outcome.position)
    return folder_response(outcome.value)


@router.get("/shared", response_model=list[dict[str, Any]])
def shared_folders(principal: VerifiedUser, folders: Folders) -> list[dict[str, Any]]:
    """Folders shared with or by the caller (none: folders are private here)."""
    return folders.shared(principal)


@router.get("/{id}", response_model=FolderResponse)
def get_folder(id: str, principal: VerifiedUser, folders: Folders) -> dict[str, Any]:
    """One of the caller's folders."""
    return folder_response(folders.own(principal, id))


@router.post("/{id}/update", response_model=FolderResponse, dependencies=[FOLDERS])
def update_folder(id: str, form: FolderUpdateForm, principal: VerifiedUser,
                  folders: Folders, written: Write) -> dict[str, Any]:
    """Rename a folder or change its data and meta."""
    outcome = folders.update(principal, id, form.name, form.data, form.meta)
    written(outcome.position)
    return folder_response(outcome.value)


@router.post("/{id}/update/parent", response_model=FolderResponse, dependencies=[FOLDERS])
def move_folder(id: str, form: FolderParentIdForm, principal: VerifiedUser,
                folders: Folders, written: Write) -> dict[str, Any]:
    """Move a folder under another one, or to the top."""
    outcome = folders.move(principal, id, form.parent_id)
    written(outcome.position)
    return folder_response(outcome.value)


@router.post("/{id}/update/expanded", response_model=FolderResponse)
def expand_folder(id: str, form: FolderIsExpandedForm, principal: VerifiedUser, folders: Folders,
                  written: Write) -> dict[str, Any]:
    """Remember whether a folder is expanded in the sidebar."""
    outcome = folders.set_expanded(principal, id, form.is_expanded)
    written(outcome.position)
    return folder_response(outcome.value)


@router.delete("/{id}", response_model=bool, dependencies=[FOLDERS_AND_CHATS])
def delete_folder(id: str, principal: VerifiedUser, folders: Folders, written: Write,
                  delete_contents: bool | None = True) -> bool:
    """Delete a folder and its subfolders; their chats too, unless `delete_contents` is false."""
    outcome = folders.delete(principal, id, delete_contents is not False)
    written(outcome.position)
    return True
