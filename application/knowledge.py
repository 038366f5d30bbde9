"""Knowledge base use cases: lists and lookups from the read model, commands on KnowledgeBase.

Authorization as Open WebUI 0.12.4 (routers/knowledge.py), with clear status codes: an unknown
id is 404; a knowledge base the caller may not read or change is 403. Creating one needs admin or
the `workspace.knowledge` permission (401 otherwise, as the reference). Admins bypass access
control. A file can only be added by its owner (or an admin): adding someone else's file would
share it with the knowledge base's readers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from application.access import (
    PRIVATE,
    AccessControlled,
    GroupMembership,
    Viewer,
    sharing_filter,
    validated_sharing,
)
from application.auth import Principal
from application.commands import CommandRunner, Outcome
from application.errors import BadRequest, Forbidden, NotFound, Unauthorized
from application.files import FileService, plausible_id
from application.messages import Detail
from application.permissions import allowed
from application.ports import EventStorePort
from domain.file import COMPLETED, PENDING, File
from domain.knowledge import DuplicateFile, KnowledgeBase, knowledge_uuid

Row = dict[str, Any]
PAGE_SIZE = 30  # 0.12.4's PAGE_ITEM_COUNT
log = logging.getLogger("chronicle.knowledge")


class KnowledgeReadModel(Protocol):
    def get(self, knowledge_id: str) -> Row | None: ...

    def visible(self, viewer: Viewer | None, page: int | None) -> list[Row]: ...

    def files(self, knowledge_ids: Sequence[str]) -> dict[str, list[Row]]: ...

    def file_readable(self, file_id: str, viewer: Viewer) -> bool: ...

    def owners(self, user_ids: Sequence[str]) -> dict[str, Row]: ...

    def search(self, viewer: Viewer | None, user_id: str, text: str | None,
               view_option: str | None, order_by: str | None, direction: str | None,
               offset: int, limit: int) -> tuple[list[Row], int]: ...

    def file_counts(self, knowledge_ids: Sequence[str]) -> dict[str, int]: ...

    def file_page(self, knowledge_id: str, user_id: str, text: str | None,
                  view_option: str | None, order_by: str | None, direction: str | None,
                  offset: int, limit: int) -> tuple[list[Row], int]: ...

    def readable_files(self, viewer: Viewer | None, text: str | None, offset: int,
                       limit: int) -> tuple[list[Row], int]: ...


@dataclass(frozen=True)
class ListQuery:
    """A workspace list's filter, order and page (0.12.4's query parameters)."""

    text: str | None = None
    view_option: str | None = None  # "created" | "shared" | None
    order_by: str | None = None  # "name" | "created_at" | "updated_at"
    direction: str | None = None  # "asc" | "desc"
    page: int = 1
    limit: int | None = None  # admins may ask for another page size (files of one base)


class KnowledgeService(AccessControlled):
    def __init__(self, store: EventStorePort, runner: CommandRunner,
                 knowledge: KnowledgeReadModel, files: FileService, groups: GroupMembership,
                 permissions: Callable[[str], dict[str, Any]]):
        self.store = store
        self.runner = runner
        self.knowledge = knowledge
        self.files = files
        self.groups = groups
        self.permissions = permissions

    # -- who ----------------------------------------------------------------------------------
    def can_read_collection(self, principal: Principal, name: str) -> bool:
        """Whether the caller may search a vector collection (a file's or a knowledge base's)."""
        if not plausible_id(name):
            return False
        if name.startswith("file-"):
            row = self.files.files.get(name[len("file-"):])
            return row is not None and self.files.readable(principal, row)
        row = self.knowledge.get(name)
        return row is not None and self.can(self.viewer(principal), row["user_id"],
                                            row["access_control"], "read")

    # -- loading --------------------------------------------------------------------------------
    def _load(self, knowledge_id: str) -> KnowledgeBase:
        kb = self.store.get(knowledge_uuid(knowledge_id))
        if not isinstance(kb, KnowledgeBase) or kb.deleted:
            raise NotFound(Detail.NOT_FOUND)
        return kb

    def _writable(self, principal: Principal, knowledge_id: str) -> KnowledgeBase:
        kb = self._load(knowledge_id)
        if not self.can(self.viewer(principal), kb.user_id, kb.access_control, "write"):
            raise Forbidden(Detail.ACCESS_PROHIBITED)
        return kb

    # -- queries --------------------------------------------------------------------------------
    def listing(self, principal: Principal, page: int | None = None) -> list[Row]:
        viewer = self.viewer(principal)
        rows = self.knowledge.visible(viewer, page)
        files = self.knowledge.files([r["id"] for r in rows])
        owners = self.knowledge.owners([r["user_id"] for r in rows])
        for row in rows:
            row["files"] = files.get(row["id"], [])
            row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
            row["user"] = owners.get(row["user_id"])
        return rows

    def get(self, principal: Principal, knowledge_id: str) -> Row:
        row = self.knowledge.get(knowledge_id) if plausible_id(knowledge_id) else None
        if row is None:
            raise NotFound(Detail.NOT_FOUND)
        viewer = self.viewer(principal)
        if not self.can(viewer, row["user_id"], row["access_control"], "read"):
            raise Forbidden(Detail.ACCESS_PROHIBITED)
        row["files"] = self.knowledge.files([knowledge_id])[knowledge_id]
        row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
        return row

    def search(self, principal: Principal, query: ListQuery) -> tuple[list[Row], int]:
        """A page of the knowledge bases the caller may read, with owner, file count and
        whether the caller may change each (the workspace's list)."""
        viewer = self.viewer(principal)
        offset = (max(1, query.page) - 1) * PAGE_SIZE
        rows, total = self.knowledge.search(viewer, principal.id, query.text, query.view_option,
                                            query.order_by, query.direction, offset, PAGE_SIZE)
        owners = self.knowledge.owners([r["user_id"] for r in rows])
        counts = self.knowledge.file_counts([r["id"] for r in rows])
        for row in rows:
            row["user"] = owners.get(row["user_id"])
            row["file_count"] = counts.get(row["id"], 0)
            row["write_access"] = self.can(viewer, row["user_id"], row["access_control"], "write")
        return rows, total

    def search_files(self, principal: Principal, query: ListQuery) -> tuple[list[Row], int]:
        """A page of the files in knowledge bases the caller may read, each with its base."""
        offset = (max(1, query.page) - 1) * PAGE_SIZE
        rows, total = self.knowledge.readable_files(self.viewer(principal), query.text, offset,
                                                    PAGE_SIZE)
        bases = {k: self.knowledge.get(k) for k in {r["knowledge_id"] for r in rows}}
        for row in rows:
            row["collection"] = bases.get(row["knowledge_id"])
        return self._with_uploaders(rows), total

    def file_page(self, principal: Principal, knowledge_id: str, query: ListQuery
                  ) -> tuple[list[Row], int]:
        """A page of one knowledge base's files. As 0.12.4 here: an unknown base or one the
        caller may not read is 400."""
        row = self.knowledge.get(knowledge_id) if plausible_id(knowledge_id) else None
        if row is None:
            raise BadRequest(Detail.NOT_FOUND)
        if not self.can(self.viewer(principal), row["user_id"], row["access_control"], "read"):
            raise BadRequest(Detail.ACCESS_PROHIBITED)
        limit = max(1, query.limit) if principal.is_admin and query.limit else PAGE_SIZE
        offset = (max(1, query.page) - 1) * limit
        rows, total = self.knowledge.file_page(knowledge_id, principal.id, query.text,
                                               query.view_option, query.order_by,
                                               query.direction, offset, limit)
        return self._with_uploaders(rows), total

    def pending_files(self, principal: Principal, knowledge_id: str) -> list[Row]:
        """Files uploaded into the base (`metadata.knowledge_id`) still being processed and not
        linked yet. Uploads are linked at once here, so this is empty but for a failed link."""
        row = self.knowledge.get(knowledge_id) if plausible_id(knowledge_id) else None
        if row is None:
            raise NotFound(Detail.NOT_FOUND)
        if not self.can(self.viewer(principal), row["user_id"], row["access_control"], "read"):
            raise BadRequest(Detail.ACCESS_PROHIBITED)
        linked = {f["id"] for f in self.knowledge.files([knowledge_id])[knowledge_id]}
        rows = self.files.files.many(self.files.files.pending()).values()
        # Only files the caller may read: a refused upload stays its uploader's.
        return sorted((r for r in rows if r["id"] not in linked and
                       (r["meta"].get("data") or {}).get("knowledge_id") == knowledge_id and
                       self.files.readable(principal, r)),
                      key=lambda r: r["created_at"], reverse=True)

    def _with_uploaders(self, rows: list[Row]) -> list[Row]:
        owners = self.knowledge.owners([r["user_id"] for r in rows])
        for row in rows:
            row["user"] = owners.get(row["user_id"])
            row.update(directory_id=None, directory_path="", has_original=True)
        return rows

    def link_upload(self, principal: Principal, file: File) -> int:
        """File an upload into the knowledge base its metadata names (0.12.4 links it after
        processing; here at once, so the base lists it while it is processed). A base the
        uploader may not change is ignored, as 0.12.4 does. Returns the log position (0: none)."""
        knowledge_id = (file.meta.get("data") or {}).get("knowledge_id")
        if not isinstance(knowledge_id, str) or not plausible_id(knowledge_id):
            return 0
        try:
            return self.add_file(principal, knowledge_id, file.file_id).position
        except (BadRequest, Forbidden, NotFound) as error:
            log.warning("upload %s not filed into knowledge %s: %s", file.file_id,
                        knowledge_id, error)
            return 0

    def view(self, principal: Principal, kb: KnowledgeBase, extra: Sequence[File] = ()) -> Row:
        """A knowledge base as a command leaves it (the read model may not have caught up)."""
        rows = self.files.files.many(kb.file_ids)
        for file in extra:
            if file.file_id in kb.file_ids and file.file_id not in rows:
                rows[file.file_id] = {"id": file.file_id, "hash": file.text_hash,
                                      "meta": file.meta, "created_at": file.created_at,
                                      "updated_at": file.updated_at}
        files = [{k: rows[f][k] for k in ("id", "hash", "meta", "created_at", "updated_at")}
                 for f in kb.file_ids if f in rows]
        return {"id": kb.knowledge_id, "user_id": kb.user_id, "name": kb.name,
                "description": kb.description, "meta": kb.meta,
                "access_control": kb.access_control, "created_at": kb.created_at,
                "updated_at": kb.updated_at, "files": files,
                "write_access": self.can(self.viewer(principal), kb.user_id, kb.access_control,
                                         "write")}

    # -- commands -------------------------------------------------------------------------------
    def create(self, principal: Principal, name: str, description: str,
               access: tuple[bool, dict[str, Any] | None], meta: dict[str, Any] | None = None
               ) -> Outcome[KnowledgeBase]:
        if not principal.is_admin and not allowed(self.permissions(principal.id), "workspace.knowledge"):
            raise Unauthorized(Detail.UNAUTHORIZED)
        sent, asked = access
        access_control = sharing_filter(principal, self.permissions(principal.id),
                                        asked if sent else PRIVATE, "knowledge")
        knowledge_id = str(uuid.uuid4())

        def decide() -> tuple[KnowledgeBase, list[Any]]:
            kb = KnowledgeBase(knowledge_id=knowledge_id, user_id=principal.id,
                               name=name.replace("\x00", ""),
                               description=description.replace("\x00", ""),
                               access_control=access_control, meta=meta)
            return kb, [kb]

        return self.runner.run("knowledge.create", decide)

    def access_update(self, principal: Principal, knowledge_id: str,
                      access_control: dict[str, Any]) -> Outcome[Row]:
        """Replace a knowledge base's grants (owner, write grantee or admin; 400 otherwise)."""
        access = validated_sharing(principal, self.permissions(principal.id), access_control, "knowledge")

        def decide() -> tuple[Row, list[Any]]:
            kb = self._load(knowledge_id)
            if not self.can(self.viewer(principal), kb.user_id, kb.access_control, "write"):
                raise BadRequest(Detail.ACCESS_PROHIBITED)
            kb.share(access)
            return self.view(principal, kb), [kb]

        return self.runner.run("knowledge.access_update", decide)

    def update(self, principal: Principal, knowledge_id: str, name: str,
               description: str) -> Outcome[Row]:
        """Rename or redescribe (owner, write grantee or admin). As 0.12.4 here: an unknown
        base or one the caller may not change is 400."""
        def decide() -> tuple[Row, list[Any]]:
            try:
                kb = self._load(knowledge_id) if plausible_id(knowledge_id) else None
            except NotFound:
                kb = None
            if kb is None:
                raise BadRequest(Detail.NOT_FOUND)
            if not self.can(self.viewer(principal), kb.user_id, kb.access_control, "write"):
                raise BadRequest(Detail.ACCESS_PROHIBITED)
            kb.update(name.replace("\x00", ""), description.replace("\x00", ""))
            return self.view(principal, kb), [kb]

        return self.runner.run("knowledge.update", decide)

    def delete(self, principal: Principal, knowledge_id: str) -> Outcome[bool]:
        """The knowledge base and its collection go; its files stay (unlinked)."""
        def decide() -> tuple[bool, list[Any]]:
            kb = self._writable(principal, knowledge_id)
            touched: list[Any] = [kb]
            for file_id in kb.file_ids:
                file = self.files.aggregate(file_id)
                if file is not None and not file.deleted:
                    file.unlink_knowledge(knowledge_id)
                    touched.append(file)
            kb.delete()
            return True, touched

        return self.runner.run("knowledge.delete", decide)

    def add_file(self, principal: Principal, knowledge_id: str, file_id: str
                 ) -> Outcome[Row]:
        def decide() -> tuple[Row, list[Any]]:
            kb = self._writable(principal, knowledge_id)
            file = self.files.aggregate(file_id)
            if file is None or file.deleted or not self.files.writable(principal, file.user_id):
                raise BadRequest(Detail.NOT_FOUND)
            if file.status not in (PENDING, COMPLETED):  # uploaded unprocessed, or failed
                raise BadRequest(Detail.FILE_NOT_PROCESSED)
            if file.text_hash and self.files.files.same_text(
                    file.text_hash, [f for f in kb.file_ids if f != file_id]):
                raise BadRequest(Detail.DUPLICATE_CONTENT)
            try:
                kb.add_file(file_id)
            except DuplicateFile:
                raise BadRequest(Detail.DUPLICATE_CONTENT) from None
            file.link_knowledge(knowledge_id)
            return self.view(principal, kb, [file]), [kb, file]

        return self.runner.run("knowledge.add_file", decide)

    def remove_file(self, principal: Principal, knowledge_id: str, file_id: str,
                    delete_file: bool = True) -> Outcome[Row]:
        """Remove the file from the knowledge base; with `delete_file` (the reference's default)
        also delete it when the caller may (its owner or an admin)."""
        doomed: list[str] = []

        def decide() -> tuple[Row, list[Any]]:
            doomed.clear()
            kb = self._writable(principal, knowledge_id)
            file = self.files.aggregate(file_id)
            if file is None or file.deleted:
                raise BadRequest(Detail.NOT_FOUND)
            if file_id not in kb.file_ids:
                raise BadRequest(Detail.NOT_FOUND)
            kb.remove_file(file_id)
            file.unlink_knowledge(knowledge_id)
            touched: list[Any] = [kb, file]
            if delete_file and self.files.writable(principal, file.user_id):
                doomed.extend(h for h in (file.content_hash, file.text_hash) if h)
                touched += [t for t in self.files._deletion(file, {knowledge_id: kb})
                            if t is not file and t is not kb]
            return self.view(principal, kb), touched

        outcome = self.runner.run("knowledge.remove_file", decide)
        self.files.collect_later(doomed)
        return outcome
