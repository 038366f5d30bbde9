"""The projector contract: what a read model declares, and which stored events it is given.

A projector names its tables and applies events to them (`handle`, `apply_page`); a `RowProjector`
keeps one row per aggregate. Which events concern it is decided from the stored topic alone
(`claims`), so an event no projector here reads is never decoded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from functools import singledispatchmethod
from typing import Any, ClassVar, Protocol

from eventsourcing.utils import get_topic, resolve_topic

from domain.erasure import Erasure
from infrastructure.sql import Tx


class EventSource(Protocol):
    def head(self) -> int: ...

    def select(self, after: int, limit: int) -> Sequence[Any]: ...

    def decode(self, notification: Any) -> Any: ...


Event = tuple[int, Any]


class Projector:
    """Subclass per read model: name, version, tables, ddl() and handle()."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]] = ()
    # Event classes (or bases) read other than through `singledispatchmethod` registrations,
    # e.g. by isinstance in apply_page. With the registrations they decide which stored topics
    # the runner decodes for this projector (`claims`); `object` claims every event.
    follows: ClassVar[tuple[type, ...]] = ()

    @classmethod
    def interests(cls) -> tuple[type, ...]:
        """The event classes this projector reads: its dispatch registrations and `follows`."""
        registered = [c for name in _dispatched(cls)
                      for c in inspect.getattr_static(cls, name).dispatcher.registry
                      if c is not object]
        return tuple(dict.fromkeys([*registered, *cls.follows]))

    @classmethod
    def claims(cls, topic: str) -> bool:
        """Whether events of this stored topic may concern the projector, decided without
        decoding them. One that declares nothing is given every event, as before topics counted."""
        known = _CLAIMS.setdefault(cls, {})
        claim = known.get(topic)
        if claim is None:
            claim = known[topic] = topic_claimed(topic, cls.interests() or (object,))
        return claim

    def __init__(self, names: dict[str, str], dialect: str):
        self.t = names
        self.dialect = dialect
        for method in _dispatched(type(self)):
            _cache_dispatch(self, method)

    def ddl(self) -> list[str]:
        """CREATE statements using {table} placeholders for this generation's physical names."""
        return []

    def handle(self, event: Any, tx: Tx) -> None:
        """Apply one event; events a projector does not know are ignored."""

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        """Apply a page of events in one transaction (override to batch the writes)."""
        for _, event in events:
            self.handle(event, tx)


_DISPATCHED: dict[type, tuple[str, ...]] = {}
_CLAIMS: dict[type, dict[str, bool]] = {}


def event_class(topic: str) -> type | None:
    """The class a stored topic names in this process; None if none (a newer deploy's event)."""
    try:
        found = resolve_topic(topic)
    except Exception:  # TopicError, or a module that no longer imports
        return None
    return found if isinstance(found, type) else None


def aggregate_of(topic: str) -> str:
    """`domain.chat:Chat` for `domain.chat:Chat.TitleChanged`."""
    module, _, qualname = topic.partition(":")
    return f"{module}:{qualname.split('.')[0]}"


def topic_claimed(topic: str, interests: tuple[type, ...]) -> bool:
    """Whether a reader of `interests` handles events of `topic`, from the string alone.

    A topic this process knows is claimed when its class is one of them or a subclass. One it
    does not know is claimed when it belongs to an aggregate whose events are among them: it may
    change what the reader shows, so passing over it could leave a read model wrong for good, and
    stopping on it shows the problem. An unknown aggregate's events concern nobody here.
    """
    if object in interests:
        return True
    cls = event_class(topic)
    if cls is not None:
        return issubclass(cls, interests)
    return aggregate_of(topic) in {aggregate_of(get_topic(c)) for c in interests}


def _dispatched(cls: type) -> tuple[str, ...]:
    """The names of the `singledispatchmethod`s a projector class declares or inherits."""
    if cls not in _DISPATCHED:
        _DISPATCHED[cls] = tuple(
            name for name in dir(cls)
            if isinstance(inspect.getattr_static(cls, name, None), singledispatchmethod))
    return _DISPATCHED[cls]


def _cache_dispatch(projector: Projector, method: str) -> None:
    """Dispatch a `singledispatchmethod` by event class through a per-instance cache.

    On Python 3.11 every access to such a method builds a new bound dispatcher: ~16 % of a
    rebuild's time went there. The handler chosen for a class never changes, so look it up once.
    """
    declared = inspect.getattr_static(type(projector), method, None)
    if not isinstance(declared, singledispatchmethod):
        return
    dispatch = declared.dispatcher.dispatch
    chosen: dict[type, Callable[..., Any]] = {}

    def call(event: Any, *args: Any, **kwargs: Any) -> Any:
        handler = chosen.get(type(event))
        if handler is None:
            handler = chosen[type(event)] = dispatch(type(event))
        return handler(projector, event, *args, **kwargs)

    setattr(projector, method, call)


class RowProjector(Projector):
    """A read model with one row per aggregate, computed by a pure function of its events.

    For a page of events the runtime loads the touched rows in one query, folds the events over
    them in memory and writes each final row once (executemany), so a page costs a few
    statements however many events it holds.
    """

    row_table: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()  # the first column is the key
    event_base: ClassVar[type[Any]] = object
    follows = (Erasure.UserErased,)  # row projectors split pages at erasures (erasure_segments)

    @classmethod
    def interests(cls) -> tuple[type, ...]:
        return (*super().interests(), cls.event_base)  # row_key takes every event of the base

    def row_key(self, event: Any) -> str | None:
        if not isinstance(event, self.event_base):
            return None
        originator: Any = event.originator_id
        return str(originator)

    def apply(self, event: Any, row: dict[str, Any] | None) -> dict[str, Any] | None:
        """The new row after `event`; None removes it. Pure: no I/O, no clock."""
        return row

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        relevant = [(key, event) for _, event in events
                    if (key := self.row_key(event)) is not None]
        if not relevant:
            return
        rows = self._load(tx, list(dict.fromkeys(key for key, _ in relevant)))
        for key, event in relevant:
            rows[key] = self.apply(event, rows.get(key))
        self._store(tx, rows)

    def _load(self, tx: Tx, keys: list[str]) -> dict[str, dict[str, Any] | None]:
        table, key = self.t[self.row_table], self.columns[0]
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            cols = ", ".join(self.columns)
            for row in tx.execute(f"SELECT {cols} FROM {table} WHERE {key} IN ({marks})", chunk):
                found[row[key]] = row
        return found

    def _store(self, tx: Tx, rows: dict[str, dict[str, Any] | None]) -> None:
        table, key = self.t[self.row_table], self.columns[0]
        cols = ", ".join(self.columns)
        marks = ", ".join("?" for _ in self.columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns[1:])
        upserts = [tuple(r.get(c) for c in self.columns) for r in rows.values() if r is not None]
        deletes = [(k,) for k, r in rows.items() if r is None]
        if upserts:
            tx.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}) "
                           f"ON CONFLICT ({key}) DO UPDATE SET {updates}", upserts)
        if deletes:
            tx.executemany(f"DELETE FROM {table} WHERE {key} = ?", deletes)


def physical_names(projector_cls: type[Projector], generation: int) -> dict[str, str]:
    return {t: f"{t}__g{generation}" for t in projector_cls.tables}
