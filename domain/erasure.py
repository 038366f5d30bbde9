"""The Erasure aggregate: the record that a user's personal data was erased (one per user).

It is system data on purpose: erasing a user destroys their key, so every event they owned replays
as a tombstone, and this record is what stays readable to say so. It holds the user's id and the
time, nothing a user wrote. Projectors drop whatever rows they still hold for the user when they
meet `UserErased`, live or in a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


def erasure_id(user_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"chronicle:erasure:{user_id}")


class Erasure(Aggregate):
    class UserErased(Aggregate.Created):
        user_id: str
        erased_at: float

    def __init__(self, user_id: str, erased_at: float) -> None:
        self.user_id = user_id
        self.erased_at = erased_at

    @classmethod
    def record(cls, user_id: str, erased_at: float) -> Erasure:
        return cls._create(cls.UserErased, id=erasure_id(user_id), user_id=user_id,
                           erased_at=erased_at)

    owner_id = None  # readable after the user's key is gone: that is its point


def erasure_segments(events: Sequence[tuple[int, Any]]
                     ) -> Iterator[tuple[list[tuple[int, Any]], str | None]]:
    """A projector's page split at each erasure: (events before it, erased user id or None).

    Row projectors fold a page in memory; an erasure has to land between the folds of the
    events on either side of it, so the page is applied in these segments, in order."""
    segment: list[tuple[int, Any]] = []
    for item in events:
        if isinstance(item[1], Erasure.UserErased):
            yield segment, str(item[1].user_id)
            segment = []
        else:
            segment.append(item)
    if segment:
        yield segment, None
