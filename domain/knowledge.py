"""The KnowledgeBase aggregate: a named, access-controlled set of files (a vector collection).

Its id is also the name of its vector collection, as in the reference. Adding and removing files
are recorded here and, in the same save, on each File (see domain.file), so the two never disagree.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.access import normalize_access_control
from domain.base import DeletedError, SoftDeleted, epoch

KNOWLEDGE_NAMESPACE = uuid5(NAMESPACE_URL, "chronicle:knowledge")


class KnowledgeError(ValueError):
    pass


class KnowledgeDeletedError(KnowledgeError, DeletedError):
    pass


class DuplicateFile(KnowledgeError):
    pass


def knowledge_uuid(knowledge_id: str) -> UUID:
    return uuid5(KNOWLEDGE_NAMESPACE, knowledge_id)


class KnowledgeBase(SoftDeleted, Aggregate):
    deleted_error = KnowledgeDeletedError
    deleted_message = "knowledge base is deleted"

    @staticmethod
    def create_id(knowledge_id: str, **_: Any) -> UUID:
        return knowledge_uuid(knowledge_id)

    @event("Created")
    def __init__(self, knowledge_id: str, user_id: str, name: str, description: str,
                 access_control: dict[str, Any] | None, meta: dict[str, Any] | None):
        self.knowledge_id = knowledge_id
        self.user_id = user_id
        self.name = name
        self.description = description
        self.access_control = normalize_access_control(access_control)
        self.meta = meta
        self.file_ids: list[str] = []
        self.deleted = False
        self.created_at = epoch(self.created_on)
        self.updated_at = self.created_at

    @property
    def owner_id(self) -> str:
        return self.user_id

    def _touch(self) -> None:
        self.updated_at = epoch(self.modified_on)

    def add_file(self, file_id: str) -> None:
        self._live()
        if file_id in self.file_ids:
            raise DuplicateFile(file_id)
        self._file_added(self.knowledge_id, file_id)

    @event("FileAdded")
    def _file_added(self, knowledge_id: str, file_id: str) -> None:
        self.file_ids = [*self.file_ids, file_id]
        self._touch()

    def remove_file(self, file_id: str) -> bool:
        self._live()
        if file_id not in self.file_ids:
            return False
        self._file_removed(self.knowledge_id, file_id)
        return True

    @event("FileRemoved")
    def _file_removed(self, knowledge_id: str, file_id: str) -> None:
        self.file_ids = [f for f in self.file_ids if f != file_id]
        self._touch()

    def update(self, name: str, description: str) -> bool:
        """Rename or redescribe; True when either changed."""
        self._live()
        if (name, description) == (self.name, self.description):
            return False
        self._updated(self.knowledge_id, name, description)
        return True

    @event("Updated")
    def _updated(self, knowledge_id: str, name: str, description: str) -> None:
        self.name = name
        self.description = description
        self._touch()

    def share(self, access_control: dict[str, Any]) -> bool:
        """Replace the grants; True when they changed."""
        self._live()
        access = normalize_access_control(access_control)
        if access == self.access_control:
            return False
        self._shared(self.knowledge_id, access)
        return True

    @event("Shared")
    def _shared(self, knowledge_id: str, access_control: dict[str, Any] | None) -> None:
        self.access_control = access_control
        self._touch()

    def delete(self) -> None:
        self._live()
        self._deleted(self.knowledge_id)

    @event("Deleted")
    def _deleted(self, knowledge_id: str) -> None:
        self.deleted = True
        self._touch()
