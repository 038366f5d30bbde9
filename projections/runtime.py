"""The projection runtime every read model uses.

A projector is a pure function of the event log: it turns events into rows of its own tables. A
runner follows the log and, for each page of events, writes the projector's rows and its position in
one transaction, so a crash never applies an event twice or skips one. Tables are generations behind
views (`users` is a view of `users__g3`), so a rebuild fills fresh tables while the old ones keep
serving, then swaps the views in one transaction.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from infrastructure.sql import Database, Tx

log = logging.getLogger("chronicle.projections")

STATE_TABLE = "projection_state"
NOTIFY_CHANNEL = "chronicle_projection"


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

    def __init__(self, names: dict[str, str], dialect: str):
        self.t = names
        self.dialect = dialect

    def ddl(self) -> list[str]:
        """CREATE statements using {table} placeholders for this generation's physical names."""
        return []

    def handle(self, event: Any, tx: Tx) -> None:
        """Apply one event; events a projector does not know are ignored."""

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        """Apply a page of events in one transaction (override to batch the writes)."""
        for _, event in events:
            self.handle(event, tx)


class RowProjector(Projector):
    """A read model with one row per aggregate, computed by a pure function of its events.

    For a page of events the runtime loads the touched rows in one query, folds the events over
    them in memory and writes each final row once (executemany), so a page costs a few
    statements however many events it holds.
    """

    row_table: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()  # the first column is the key
    event_base: ClassVar[type[Any]] = object

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


class LogReader:
    """Reads the log once for all runners: a window of recently decoded events is shared."""

    def __init__(self, source: EventSource, window: int = 20000, poll_interval: float = 0.1):
        self.source = source
        self.window = window
        self.poll_interval = poll_interval
        self._ids: list[int] = []
        self._events: list[Any] = []
        self._lo = 0
        self._hi = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._head = source.head()
        self._stopped = threading.Event()
        self._poller: threading.Thread | None = None

    # -- wake-ups ---------------------------------------------------------------------------
    def start_polling(self) -> None:
        """For writers in other processes when no NOTIFY reaches us (SQLite)."""
        self._poller = threading.Thread(target=self._poll, name="log-poller", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stopped.wait(self.poll_interval):
            try:
                self.notify_head(self.source.head())
            except Exception:  # the database may be restarting; keep polling
                log.warning("log head poll failed", exc_info=True)

    def notify_head(self, head: int) -> None:
        with self._cond:
            if head > self._head:
                self._head = head
                self._cond.notify_all()

    @property
    def head(self) -> int:
        return self._head

    def wait_beyond(self, position: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._head > position or self._stopped.is_set(), timeout)

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()

    # -- reading ----------------------------------------------------------------------------
    def fetch(self, after: int, limit: int) -> list[Event]:
        """Uncached read, for rebuilds."""
        rows = self.source.select(after, limit)
        return [(n.id, self.source.decode(n)) for n in rows]

    def after(self, position: int, limit: int) -> list[Event]:
        with self._lock:
            if self._lo <= position < self._hi:
                i = bisect.bisect_right(self._ids, position)
                return list(zip(self._ids[i : i + limit], self._events[i : i + limit],
                                strict=True))
            page = self.fetch(position, limit)
            if not page:
                return page
            if position != self._hi:
                self._ids, self._events, self._lo = [], [], position
            self._ids.extend(n for n, _ in page)
            self._events.extend(e for _, e in page)
            self._hi = page[-1][0]
            self._trim()
            if self._hi > self._head:
                self._head = self._hi
            return page

    def _trim(self) -> None:
        excess = len(self._ids) - self.window
        if excess > 0:
            self._lo = self._ids[excess - 1]
            del self._ids[:excess]
            del self._events[:excess]


@dataclass
class RunnerStatus:
    name: str
    status: str = "starting"
    position: int = 0
    generation: int = 0
    failures: int = 0
    last_error: str | None = None
    last_failure_at: float | None = None
    processed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Lease(Protocol):
    def acquire(self, name: str) -> bool: ...

    def release(self, name: str) -> None: ...


class AlwaysLease:
    def acquire(self, name: str) -> bool:
        return True

    def release(self, name: str) -> None:
        pass


def ensure_state_table(db: Database) -> None:
    big = "BIGINT" if db.dialect == "postgres" else "INTEGER"
    real = "DOUBLE PRECISION" if db.dialect == "postgres" else "REAL"
    with db.transaction() as tx:
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (name TEXT PRIMARY KEY, "
            f"generation INTEGER NOT NULL, position {big} NOT NULL, version INTEGER NOT NULL, "
            f"status TEXT, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, "
            f"updated_at {real})"
        )


def read_state(db: Database, name: str) -> dict[str, Any] | None:
    rows = db.query(f"SELECT * FROM {STATE_TABLE} WHERE name = ?", (name,))
    return rows[0] if rows else None


def create_generation(tx: Tx, cls: type[Projector], generation: int) -> Projector:
    names = physical_names(cls, generation)
    projector = cls(names, tx.dialect)
    for table in cls.tables:
        tx.execute(f"DROP TABLE IF EXISTS {names[table]}")
    for statement in projector.ddl():
        tx.execute(statement.format(**names))
    return projector


def point_views(tx: Tx, cls: type[Projector], generation: int) -> None:
    names = physical_names(cls, generation)
    for table in cls.tables:
        tx.execute(f"DROP VIEW IF EXISTS {table}")
        tx.execute(f"CREATE VIEW {table} AS SELECT * FROM {names[table]}")


def drop_generation(tx: Tx, cls: type[Projector], generation: int) -> None:
    for name in physical_names(cls, generation).values():
        tx.execute(f"DROP TABLE IF EXISTS {name}")


class ProjectorRunner:
    """Follows the log for one projector; supervised: failures are retried with backoff."""

    def __init__(self, cls: type[Projector], db: Database, reader: LogReader,
                 on_advance: Callable[[str, int], None], lease: Lease | None = None,
                 page: int = 500, max_backoff: float = 30.0):
        self.cls = cls
        self.name = cls.name
        self.db = db
        self.reader = reader
        self.on_advance = on_advance
        self.lease = lease or AlwaysLease()
        self.page = page
        self.max_backoff = max_backoff
        self.status = RunnerStatus(cls.name)
        self.projector: Projector | None = None
        self._single = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"projector-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        self.lease.release(self.name)

    @property
    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.lease.acquire(self.name):
                self.status.status = "standby"
                self._stop.wait(2.0)
                continue
            try:
                self.ensure()
                processed = self.step()
            except Exception as error:
                self._failed(error)
                continue
            if processed == 0:
                self.reader.wait_beyond(self.status.position, 1.0)

    def _failed(self, error: Exception) -> None:
        status = self.status
        status.failures += 1
        status.status = "failed"
        status.last_error = f"{type(error).__name__}: {error}"[:2000]
        status.last_failure_at = time.time()
        self._single = True  # narrow down to the one event that fails
        log.error("projector failed", extra={"projector": self.name,
                                             "position": status.position,
                                             "failures": status.failures}, exc_info=error)
        self._record_failure()
        self._stop.wait(min(self.max_backoff, 0.2 * 2 ** min(status.failures, 10)))

    def _record_failure(self) -> None:
        try:
            with self.db.transaction() as tx:
                tx.execute(f"UPDATE {STATE_TABLE} SET status = 'failed', failures = ?, "
                           f"last_error = ?, updated_at = ? WHERE name = ?",
                           (self.status.failures, self.status.last_error, time.time(), self.name))
        except Exception:
            log.warning("could not record projector failure", exc_info=True)

    # -- work -------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create generation 1 on first start; rebuild when the projector's code version changed."""
        if self.projector is not None:
            return
        state = read_state(self.db, self.name)
        if state is None:
            with self.db.transaction() as tx:
                create_generation(tx, self.cls, 1)
                point_views(tx, self.cls, 1)
                tx.execute(f"INSERT INTO {STATE_TABLE} (name, generation, position, version, "
                           f"status, updated_at) VALUES (?, 1, 0, ?, 'running', ?) "
                           f"ON CONFLICT (name) DO NOTHING", (self.name, self.cls.version,
                                                              time.time()))
            state = read_state(self.db, self.name)
            assert state is not None
        elif state["version"] != self.cls.version:
            log.warning("projector code changed, rebuilding", extra={"projector": self.name})
            rebuild(self.cls, self.db, self.reader)
            state = read_state(self.db, self.name)
            assert state is not None
        self._adopt(state)

    def _adopt(self, state: dict[str, Any]) -> None:
        generation = int(state["generation"])
        self.projector = self.cls(physical_names(self.cls, generation), self.db.dialect)
        self.status.generation = generation
        self.status.position = int(state["position"])
        self.on_advance(self.name, self.status.position)

    def step(self) -> int:
        """Apply one page of events; returns how many were applied."""
        assert self.projector is not None
        position = self.status.position
        batch = self.reader.after(position, 1 if self._single else self.page)
        if not batch:
            self._healthy()
            return 0
        moved: dict[str, Any] | None = None
        with self._transaction() as tx:
            row = tx.execute(f"SELECT generation, position FROM {STATE_TABLE} WHERE name = ? "
                             f"FOR UPDATE", (self.name,))[0]
            if row["generation"] != self.status.generation or row["position"] != position:
                moved = row  # a rebuild swapped, or another runner advanced: follow it
            else:
                self.projector.apply_page(batch, tx)
                self._advance(tx, batch[-1][0])
        if moved is not None:
            self._adopt(moved)
            return 0
        return self._applied(batch)

    def _advance(self, tx: Tx, last: int) -> None:
        tx.execute(f"UPDATE {STATE_TABLE} SET position = ?, status = 'running', "
                   f"failures = 0, last_error = NULL, updated_at = ? WHERE name = ?",
                   (last, time.time(), self.name))
        tx.notify(NOTIFY_CHANNEL, f"{self.name}:{last}")

    def _applied(self, batch: Sequence[Event]) -> int:
        last = batch[-1][0]
        self.status.position = last
        self.status.processed += len(batch)
        self._single = False
        self._healthy()
        self.on_advance(self.name, last)
        return len(batch)

    def _healthy(self) -> None:
        if self.status.status != "running":
            self.status.status = "running"
            self.status.failures = 0

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:
        with _page_tx(self.db) as tx:
            yield tx


def rebuild(cls: type[Projector], db: Database, reader: LogReader, page: int = 2000,
            progress: Callable[[int, int], None] | None = None) -> int:
    """Fill a fresh generation from position 0 (resuming an interrupted rebuild), then swap.

    Returns the number of events applied.
    """
    shadow_name = f"{cls.name}@rebuild"
    shadow = read_state(db, shadow_name)
    live = read_state(db, cls.name)
    if shadow is None:
        generation = (int(live["generation"]) + 1) if live else 1
        with db.transaction() as tx:
            create_generation(tx, cls, generation)
            tx.execute(f"INSERT INTO {STATE_TABLE} (name, generation, position, version, status,"
                       f" updated_at) VALUES (?, ?, 0, ?, 'rebuilding', ?)",
                       (shadow_name, generation, cls.version, time.time()))
        shadow = read_state(db, shadow_name)
        assert shadow is not None
    generation, position = int(shadow["generation"]), int(shadow["position"])
    projector = cls(physical_names(cls, generation), db.dialect)
    applied = 0
    while True:
        batch = reader.fetch(position, page)
        if not batch:
            break
        with _page_tx(db) as tx:
            projector.apply_page(batch, tx)
            position = batch[-1][0]
            tx.execute(f"UPDATE {STATE_TABLE} SET position = ?, updated_at = ? WHERE name = ?",
                       (position, time.time(), shadow_name))
        applied += len(batch)
        if progress:
            progress(applied, position)
    applied += _swap(cls, db, reader, projector, generation, position, live)
    return applied


def _swap(cls: type[Projector], db: Database, reader: LogReader, projector: Projector,
          generation: int, position: int, live: dict[str, Any] | None) -> int:
    applied = 0
    with db.transaction() as tx:
        tx.execute(f"SELECT position FROM {STATE_TABLE} WHERE name = ? FOR UPDATE", (cls.name,))
        while batch := reader.fetch(position, 2000):  # writes that landed during the rebuild
            projector.apply_page(batch, tx)
            position = batch[-1][0]
            applied += len(batch)
        point_views(tx, cls, generation)
        tx.execute(f"INSERT INTO {STATE_TABLE} (name, generation, position, version, status, "
                   f"updated_at) VALUES (?, ?, ?, ?, 'running', ?) ON CONFLICT (name) DO UPDATE "
                   f"SET generation = excluded.generation, position = excluded.position, "
                   f"version = excluded.version, status = 'running', failures = 0, "
                   f"last_error = NULL, updated_at = excluded.updated_at",
                   (cls.name, generation, position, cls.version, time.time()))
        tx.execute(f"DELETE FROM {STATE_TABLE} WHERE name = ?", (f"{cls.name}@rebuild",))
        tx.notify(NOTIFY_CHANNEL, f"{cls.name}:{position}")
    if live is not None and int(live["generation"]) != generation:
        with db.transaction() as tx:
            drop_generation(tx, cls, int(live["generation"]))
    return applied


@contextmanager
def _page_tx(db: Database) -> Iterator[Tx]:
    """Read-model pages: pipelined and not waiting for the WAL flush where the database can."""
    pipelined = getattr(db, "pipelined", None)
    with (pipelined(durable=False) if pipelined else db.transaction()) as tx:
        yield tx
