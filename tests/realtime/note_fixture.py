"""A stand-in note aggregate until the notes feature lands: an owner, and users granted access.

The realtime layer asks any aggregate stored under a note id for `owner_id` and `has_access`.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event


class Note(Aggregate):
    @event("Created")
    def __init__(self, owner_id: str, title: str, readers: list[str], writers: list[str]):
        self.owner_id = owner_id
        self.title = title
        self.readers = list(readers)
        self.writers = list(writers)
        self.deleted = False

    def has_access(self, user_id: str, permission: str) -> bool:
        return user_id in (self.writers if permission == "write" else self.readers + self.writers)
