"""A note to open collaboratively: the real Note aggregate, owned by one user and shared with
readers and writers (the realtime layer checks its grants in the notes read model)."""

from __future__ import annotations

from domain.access import Grant, from_grants
from domain.note import Note as NoteAggregate


def Note(owner_id: str, title: str, readers: list[str], writers: list[str]  # noqa: N802
         ) -> NoteAggregate:
    grants = [Grant("user", u, "read") for u in readers + writers]
    grants += [Grant("user", u, "write") for u in writers]
    return NoteAggregate(user_id=owner_id, title=title, data={}, meta={},
                         access_control=from_grants(grants))
