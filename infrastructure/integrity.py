"""Tamper evidence: recompute every aggregate's hash chain from the stored events.

Each stored event's header holds `h`, an HMAC over the previous event's `h`, the aggregate id,
version, topic, the rest of the header (owner, actor, correlation id, time) and the encrypted body
(infrastructure/mapper.py). Replaying the chains in log
order finds an event altered in place (its `h` no longer matches), removed (a version is
missing, or the next event's chain breaks) or reordered. The removal of an aggregate's *last*
event leaves no successor to break: `chronicle verify` finds that one as read-model drift (the
audit index has a row per event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from infrastructure.mapper import stored_chain_hash


@dataclass(frozen=True)
class Problem:
    position: int
    aggregate_id: str
    version: int
    reason: str


class ChainVerifier:
    """Checks stored events fed in log order; remembers each aggregate's last version and hash.

    Rows need `id` (position), `originator_id`, `originator_version`, `topic` and `state`.
    """

    def __init__(self, chain_key: bytes):
        self.key = chain_key
        self.heads: dict[Any, tuple[int, str]] = {}
        self.checked = 0

    def check(self, rows: Iterable[Any]) -> list[Problem]:
        found: list[Problem] = []
        for row in rows:
            found.extend(self._check(row))
            self.checked += 1
        return found

    def _check(self, row: Any) -> Iterator[Problem]:
        version, previous = self.heads.get(row.originator_id, (0, ""))
        aggregate = str(row.originator_id)
        if row.originator_version != version + 1:
            yield Problem(row.id, aggregate, row.originator_version,
                          f"expected version {version + 1}: an event is missing or reordered")
        try:
            claimed, expected = stored_chain_hash(self.key, previous, row.originator_id,
                                                  row.originator_version, row.topic,
                                                  bytes(row.state))
        except Exception as error:
            yield Problem(row.id, aggregate, row.originator_version, f"unreadable event: {error}")
            self.heads[row.originator_id] = (row.originator_version, "")
            return
        if claimed != expected:
            yield Problem(row.id, aggregate, row.originator_version,
                          "hash chain broken: this event or an earlier one was altered or removed")
        self.heads[row.originator_id] = (row.originator_version, claimed)


def verify_chains(store: Any, chain_key: bytes, page: int = 5000,
                  progress: Callable[[int], None] | None = None) -> Iterator[Problem]:
    """Yield each break: an altered event, a missing one, or versions out of order."""
    verifier = ChainVerifier(chain_key)
    position = 0
    while rows := store.select(position, page):
        yield from verifier.check(rows)
        position = rows[-1].id
        if progress:
            progress(position)
