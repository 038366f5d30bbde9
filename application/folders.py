"""Folder use cases: a user's chat folders (create, list, rename, move, expand, delete).

Names are unique among siblings and the tree has no cycles; both need other folders, so they
are checked against the read model (as the reference checks its table: a check, not a lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.auth import Principal
from application.chat_queries import ChatsReadModel, FoldersReadModel
from application.commands import CommandRunner, Outcome
from application.domain_errors import domain_errors
from application.errors import BadRequest, Forbidden, NotFound
from application.ids import parse_uuid
from application.messages import Detail
from application.permissions import allowed
from application.ports import EventStorePort
from domain.chat import Chat, ChatError
from domain.folder import Folder, FolderError

FOLDER_EXISTS = Detail.DEFAULT("Folder already exists")


class FolderService:
    def __init__(self, store: EventStorePort, runner: CommandRunner, folders: FoldersReadModel,
                 chats: ChatsReadModel, permissions: Callable[[str], dict[str, Any]]):
        self.store = store
        self.runner = runner
        self.folders = folders
        self.chats = chats
        self.permissions = permissions

    def own(self, principal: Principal, folder_id: str) -> Folder:
        parsed = parse_uuid(folder_id)
        folder = self.store.get(parsed) if parsed else None
        if not isinstance(folder, Folder) or folder.deleted or folder.owner_id != principal.id:
            raise NotFound(Detail.NOT_FOUND)
        return folder

    def _unique(self, principal: Principal, parent_id: str | None, name: str,
                folder_id: str | None = None) -> None:
        existing = self.folders.sibling_named(principal.id, parent_id, name.strip())
        if existing is not None and existing != folder_id:
            raise BadRequest(FOLDER_EXISTS)

    def _change(self, name: str, principal: Principal, folder_id: str,
                change: Callable[[Folder], None]) -> Outcome[Folder]:
        def decide() -> tuple[Folder, list[Any]]:
            folder = self.own(principal, folder_id)
            with domain_errors(ChatError, FolderError):
                change(folder)
            return folder, [folder]

        return self.runner.run(name, decide)

    # -- commands ---------------------------------------------------------------------------
    def create(self, principal: Principal, name: str, parent_id: str | None = None,
               data: dict[str, Any] | None = None,
               meta: dict[str, Any] | None = None) -> Outcome[Folder]:
        def decide() -> tuple[Folder, list[Any]]:
            if parent_id is not None:
                self.own(principal, parent_id)
            self._unique(principal, parent_id, name)
            with domain_errors(ChatError, FolderError):
                folder = Folder.create(principal.id, name, parent_id=parent_id, data=data,
                                       meta=meta)
            return folder, [folder]

        return self.runner.run("folders.create", decide)

    def update(self, principal: Principal, folder_id: str, name: str | None,
               data: dict[str, Any] | None, meta: dict[str, Any] | None) -> Outcome[Folder]:
        def change(folder: Folder) -> None:
            if name is not None:
                self._unique(principal, folder.parent_id, name, str(folder.id))
                folder.rename(name)
            if data is not None:
                folder.update_data(data)
            if meta is not None:
                folder.update_meta(meta)

        return self._change("folders.update", principal, folder_id, change)

    def move(self, principal: Principal, folder_id: str,
             parent_id: str | None) -> Outcome[Folder]:
        def change(folder: Folder) -> None:
            if parent_id is not None:
                self.own(principal, parent_id)
                if parent_id in self.folders.subtree(principal.id, folder_id):
                    raise BadRequest(Detail.DEFAULT("A folder cannot move below itself"))
            self._unique(principal, parent_id, folder.name, folder_id)
            folder.move(parent_id)

        return self._change("folders.move", principal, folder_id, change)

    def set_expanded(self, principal: Principal, folder_id: str,
                     is_expanded: bool) -> Outcome[Folder]:
        return self._change("folders.expand", principal, folder_id,
                            lambda folder: folder.set_expanded(is_expanded))

    def delete(self, principal: Principal, folder_id: str, delete_contents: bool) -> Outcome[bool]:
        """Delete the folder and its subfolders; their chats are deleted too, or (with
        delete_contents false) moved back to the chat list."""
        if not principal.is_admin and not allowed(self.permissions(principal.id), "chat.delete"):
            raise Forbidden(Detail.ACCESS_PROHIBITED)

        def decide() -> tuple[bool, list[Any]]:
            self.own(principal, folder_id)
            ids = self.folders.subtree(principal.id, folder_id)
            folders = [f for f in map(self.store.get, filter(None, map(parse_uuid, ids)))
                       if isinstance(f, Folder) and not f.deleted and f.owner_id == principal.id]
            chats = [c for c in map(self.store.get, filter(None, map(parse_uuid,
                     self.chats.filed_in(principal.id, ids))))
                     if isinstance(c, Chat) and not c.deleted and c.owner_id == principal.id]
            for chat in chats:
                if delete_contents:
                    chat.delete()
                else:
                    chat.move_to_folder(None)
            for folder in folders:
                folder.delete()
            return True, [*chats, *folders]

        return self.runner.run("folders.delete", decide)

    # -- queries ----------------------------------------------------------------------------
    def list_folders(self, principal: Principal) -> list[dict[str, Any]]:
        return self.folders.of_user(principal.id)

    def shared(self, principal: Principal) -> list[dict[str, Any]]:
        """Folders shared with or by the caller: folders carry no access grants here (each is
        private to its owner), so none, once the caller may use folders at all."""
        if not principal.is_admin and not allowed(self.permissions(principal.id), "features.folders"):
            raise Forbidden(Detail.ACCESS_PROHIBITED)
        return []
