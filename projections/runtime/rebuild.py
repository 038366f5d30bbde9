"""Rebuilding read models from the log beside the live ones, and checking them against live.

A rebuild fills a shadow generation (resuming where an interrupted one stopped), catches it up,
compares it with live at the same position and swaps the views in one transaction. `check_only`
and `verify` replay into scratch tables and compare, changing nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from infrastructure.sql import Database, Tx
from projections.compare import Comparison, compare_tables
from projections.runtime.contract import EventSource, Projector, physical_names
from projections.runtime.log_reader import LogReader
from projections.runtime.pages import Target, fill, read_page
from projections.runtime.state import (
    NOTIFY_CHANNEL,
    RUNNING,
    STATE_TABLE,
    create_generation,
    create_tables,
    drop_generation,
    drop_tables,
    point_views,
    read_state,
)


def _catch_up(tx: Tx, source: EventSource, target: Target, upto: int | None) -> None:
    """Inside `tx`: apply the log after the target's position, up to `upto` (or the head)."""
    target.upto = upto
    while page := read_page(source, target.position, 2000, upto):
        target.apply(tx, page.events, page.last)


# -- rebuild ----------------------------------------------------------------------------------------
# Reading stops at the head seen when a round starts, so writes faster than the rebuild cannot
# keep it from finishing; what arrives after the last round is applied in the swap transaction.
CATCH_UP_ROUNDS = 3


@dataclass
class Rebuilt:
    name: str
    applied: int
    position: int
    comparison: Comparison | None


def rebuild(cls: type[Projector], db: Database, reader: LogReader, page: int = 2000,
            progress: Callable[[int, int], None] | None = None, check: bool = True) -> int:
    """Fill a fresh generation from position 0 (resuming an interrupted rebuild), then swap.

    Returns the number of events applied.
    """
    return rebuild_many([cls], db, reader, page, progress, check)[0].applied


def rebuild_many(classes: Sequence[type[Projector]], db: Database, reader: LogReader,
                 page: int = 2000, progress: Callable[[int, int], None] | None = None,
                 check: bool = True) -> list[Rebuilt]:
    """Rebuild read models from one read of the log: each page is decoded once and applied to
    every shadow generation. Each shadow keeps its own position, so an interrupted run resumes
    where each one stopped. Then each is caught up, checked against live and swapped in."""
    if not classes:
        return []
    shadows = [_shadow(db, cls) for cls in classes]
    source = reader.source
    read = 0
    for _ in range(CATCH_UP_ROUNDS):  # to the head as it was; then what came meanwhile
        after, head = min(s.position for s in shadows), source.head()
        if head - after <= page and after > 0:
            break  # little enough for the swap transaction
        read += fill(db, source, shadows, after, head, page, _offset(progress, read))
    return [_swap(db, source, shadow, check) for shadow in shadows]


def _offset(progress: Callable[[int, int], None] | None, base: int
            ) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda read, position: progress(base + read, position)


def _shadow(db: Database, cls: type[Projector]) -> Target:
    """The rebuild's generation: resumed where it stopped, or created beside the live one."""
    name = f"{cls.name}@rebuild"
    state = read_state(db, name)
    if state is None or state["version"] != cls.version:  # none yet, or left by other code
        live = read_state(db, cls.name)
        generation = (int(live["generation"]) + 1) if live else 1
        with db.transaction() as tx:
            if state is not None:
                drop_generation(tx, cls, int(state["generation"]))
            create_generation(tx, cls, generation)
            tx.execute(f"INSERT INTO {STATE_TABLE} (name, generation, position, version, status,"
                       f" updated_at) VALUES (?, ?, 0, ?, 'rebuilding', ?) ON CONFLICT (name) DO"
                       f" UPDATE SET generation = excluded.generation, position = 0,"
                       f" version = excluded.version", (name, generation, cls.version, time.time()))
        state = {"generation": generation, "position": 0}
    generation = int(state["generation"])
    names = physical_names(cls, generation)
    return Target(cls, names, cls(names, db.dialect), int(state["position"]), state_name=name,
                  generation=generation)


def _swap(db: Database, source: EventSource, shadow: Target, check: bool) -> Rebuilt:
    """In one transaction holding the live projector's row (its runner waits): apply what
    arrived during the rebuild, compare with live at the same position, point the views at the
    new tables and move the live projector there."""
    cls = shadow.cls
    with db.transaction() as tx:
        live = _lock_live(tx, cls.name)
        _catch_up(tx, source, shadow, None)
        comparison = _check(tx, source, shadow, live) if check else None
        point_views(tx, cls, shadow.generation)
        tx.execute(f"INSERT INTO {STATE_TABLE} (name, generation, position, version, status, "
                   f"updated_at) VALUES (?, ?, ?, ?, 'running', ?) ON CONFLICT (name) DO UPDATE "
                   f"SET generation = excluded.generation, position = excluded.position, "
                   f"version = excluded.version, {RUNNING}, updated_at = excluded.updated_at",
                   (cls.name, shadow.generation, shadow.position, cls.version, time.time()))
        tx.execute(f"DELETE FROM {STATE_TABLE} WHERE name = ?", (shadow.state_name,))
        tx.notify(NOTIFY_CHANNEL, f"{cls.name}:{shadow.position}")
    if live is not None and int(live["generation"]) != shadow.generation:
        with db.transaction() as tx:
            drop_generation(tx, cls, int(live["generation"]))
    return Rebuilt(cls.name, shadow.applied, shadow.position, comparison)


def _lock_live(tx: Tx, name: str) -> dict[str, Any] | None:
    rows = tx.execute(f"SELECT generation, position, version, status FROM {STATE_TABLE} "
                      f"WHERE name = ? FOR UPDATE", (name,))
    return rows[0] if rows else None


def _not_comparable(cls: type[Projector], live: dict[str, Any] | None) -> str | None:
    if live is None:
        return "no live read model yet"
    if int(live["version"]) != cls.version:
        return (f"the live tables were built by version {live['version']} of the projector, "
                f"this code is version {cls.version}")
    return None


def _check(tx: Tx, source: EventSource, shadow: Target, live: dict[str, Any] | None
           ) -> Comparison:
    """Bring live to the shadow's position (inside the swap transaction: the live tables are
    dropped right after), then compare them."""
    cls = shadow.cls
    reason = _not_comparable(cls, live)
    if reason or live is None:
        return Comparison(cls.name, shadow.position, skipped=reason)
    names = physical_names(cls, int(live["generation"]))
    current = Target(cls, names, cls(names, tx.dialect), int(live["position"]))
    if current.position > shadow.position:
        return Comparison(cls.name, shadow.position, skipped="live is ahead of the log head")
    try:
        with _savepoint(tx):
            _catch_up(tx, source, current, shadow.position)
    except Exception as error:
        return Comparison(cls.name, shadow.position, error=f"live could not be brought to "
                          f"position {shadow.position}: {type(error).__name__}: {error}")
    return _compare(tx, cls, names, shadow.names, shadow.position)


def _compare(tx: Tx, cls: type[Projector], live: dict[str, str], other: dict[str, str],
             position: int) -> Comparison:
    try:
        with _savepoint(tx):
            tables = [compare_tables(tx, t, live[t], other[t]) for t in cls.tables]
    except Exception as error:
        return Comparison(cls.name, position, error=f"comparison failed: {error}")
    return Comparison(cls.name, position, tables)


@contextmanager
def _savepoint(tx: Tx, name: str = "chronicle_check") -> Iterator[None]:
    tx.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        tx.execute(f"ROLLBACK TO SAVEPOINT {name}")
        raise
    tx.execute(f"RELEASE SAVEPOINT {name}")


# -- comparing live with a scratch replay (verify, rebuild --check-only) -----------------------------
def scratch_target(db: Database, cls: type[Projector]) -> Target:
    """Empty scratch tables for `cls`, to fill up to the live position it has now. Named for
    this replay alone, so that two (a `verify` and a `rebuild --check-only`) may run at once."""
    live = read_state(db, cls.name)
    token = uuid.uuid4().hex[:10]
    names = {t: f"{t}__verify_{token}" for t in cls.tables}
    with db.transaction() as tx:
        projector = create_tables(tx, cls, names)
    return Target(cls, names, projector, 0, upto=int(live["position"]) if live else 0)


def compare_scratch(db: Database, source: EventSource, target: Target) -> Comparison:
    """Holding the live projector's row (its runner waits), bring the scratch copy to the live
    position, which live may have passed since the replay began, and compare. Live is not
    touched."""
    cls = target.cls
    with db.transaction() as tx:
        live = _lock_live(tx, cls.name)
        reason = _not_comparable(cls, live)
        if reason or live is None:
            return Comparison(cls.name, skipped=reason)
        position = int(live["position"])
        if target.error is not None:
            return Comparison(cls.name, position, error=f"replay failed: {target.error}")
        try:
            with _savepoint(tx):
                _catch_up(tx, source, target, position)
        except Exception as error:
            return Comparison(cls.name, position, error=f"replay failed after {target.position}: "
                              f"{type(error).__name__}: {error}")
        return _compare(tx, cls, physical_names(cls, int(live["generation"])), target.names,
                        position)


def drop_scratch(db: Database, target: Target) -> None:
    with db.transaction() as tx:
        drop_tables(tx, target.names)


def check_only(classes: Sequence[type[Projector]], db: Database, source: EventSource,
               page: int = 2000, progress: Callable[[int, int], None] | None = None
               ) -> list[Comparison]:
    """Replay into scratch tables and compare with live, changing nothing."""
    targets = [scratch_target(db, cls) for cls in classes]
    try:
        upto = max((t.upto or 0 for t in targets), default=0)
        fill(db, source, targets, 0, upto, page, progress, tolerant=True)
        return [compare_scratch(db, source, t) for t in targets]
    finally:
        for target in targets:
            drop_scratch(db, target)
