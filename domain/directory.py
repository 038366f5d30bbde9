"""The set of administrators: one small aggregate so that 'never the last admin' holds under races."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

DIRECTORY_ID = uuid5(NAMESPACE_URL, "chronicle:directory")


class LastAdminError(ValueError):
    pass


class Directory(Aggregate):
    """Created by the first signup, whose user becomes the first admin."""

    @staticmethod
    def create_id(first_admin: str) -> UUID:
        return DIRECTORY_ID

    @event("Founded")
    def __init__(self, first_admin: str):
        self.admins = [first_admin]
        self.primary_admin = first_admin  # the earliest user: never demoted, never deleted

    owner_id = None  # not personal data

    def is_primary(self, user_id: str) -> bool:
        # Directories founded before primary_admin was recorded: the founder is admins[0] unless
        # removed, so fall back to it.
        return user_id == getattr(self, "primary_admin", self.admins[0] if self.admins else None)

    def add_admin(self, user_id: str) -> None:
        if user_id not in self.admins:
            self._admin_added(user_id)

    @event("AdminAdded")
    def _admin_added(self, user_id: str) -> None:
        self.admins = [*self.admins, user_id]

    def remove_admin(self, user_id: str) -> None:
        if user_id not in self.admins:
            return
        if len(self.admins) == 1:
            raise LastAdminError("the last admin cannot be removed")
        self._admin_removed(user_id)

    @event("AdminRemoved")
    def _admin_removed(self, user_id: str) -> None:
        self.admins = [a for a in self.admins if a != user_id]
