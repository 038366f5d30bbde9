"""Tamper evidence: recompute every aggregate's hash chain from the stored events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from infrastructure.mapper import chain_hash, split_state


@dataclass(frozen=True)
class Problem:
    position: int
    aggregate_id: str
    version: int
    reason: str


def verify_chains(store: Any, chain_key: bytes, page: int = 5000,
                  progress: Callable[[int], None] | None = None) -> Iterator[Problem]:
    """Yield each break: an altered event, a missing one, or versions out of order."""
    heads: dict[Any, tuple[int, str]] = {}
    position = 0
    while rows := store.select(position, page):
        for row in rows:
            yield from _check(row, heads, chain_key)
        position = rows[-1].id
        if progress:
            progress(position)


def _check(row: Any, heads: dict[Any, tuple[int, str]], key: bytes) -> Iterator[Problem]:
    version, previous = heads.get(row.originator_id, (0, ""))
    aggregate = str(row.originator_id)
    if row.originator_version != version + 1:
        yield Problem(row.id, aggregate, row.originator_version,
                      f"expected version {version + 1}: an event is missing or reordered")
    try:
        header, nonce, body = split_state(row.state)
    except Exception as error:
        yield Problem(row.id, aggregate, row.originator_version, f"unreadable event: {error}")
        heads[row.originator_id] = (row.originator_version, "")
        return
    expected = chain_hash(key, previous, row.originator_id, row.originator_version, row.topic,
                          nonce + body)
    if header.get("h") != expected:
        yield Problem(row.id, aggregate, row.originator_version,
                      "hash chain broken: this event or an earlier one was altered or removed")
    heads[row.originator_id] = (row.originator_version, header.get("h", ""))
