"""The projection runtime every read model uses.

A projector is a pure function of the event log: it turns events into rows of its own tables. A
runner follows the log and, for each page of events, writes the projector's rows and its position in
one transaction, so a crash never applies an event twice or skips one. Tables are generations behind
views (`users` is a view of `users__g3`), so a rebuild fills fresh tables while the old ones keep
serving, then swaps the views in one transaction.
"""

from __future__ import annotations

import bisect
import inspect
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from functools import singledispatchmethod
from typing import Any, ClassVar, Protocol

from eventsourcing.utils import get_topic, resolve_topic

from domain.erasure import Erasure
from infrastructure.sql import Database, Tx
from projections.compare import Comparison, compare_tables

log = logging.getLogger("chronicle.projections")

STATE_TABLE = "projection_state"
NOTIFY_CHANNEL = "chronicle_projection"
RUNNING = ("status = 'running', failures = 0, last_error = NULL, "
           "failed_event = NULL")  # a state row's healthy columns


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


_UNDECODED = object()


class Logged:
    """One stored event as the reader shares it: the topic is plain, the state is decoded on
    first demand and then kept, once for every runner that wants it. Runners decide from the
    topic whether they want it, so an event no runner here understands is never decoded."""

    __slots__ = ("position", "notification", "_decode", "_event")

    def __init__(self, notification: Any, decode: Callable[[Any], Any]):
        self.position = int(notification.id)
        self.notification = notification
        self._decode = decode
        self._event: Any = _UNDECODED

    @property
    def topic(self) -> str:
        return str(self.notification.topic)

    def event(self) -> Any:
        # A failure is not kept: it may pass (the key store was away), so the next call retries.
        if self._event is _UNDECODED:
            self._event = self._decode(self.notification)
        return self._event

    def describe(self) -> dict[str, Any]:
        return describe(self.notification)


def describe(notification: Any) -> dict[str, Any]:
    """What an operator needs to find a stored event: its position, topic and aggregate."""
    return {"position": int(notification.id), "topic": str(notification.topic),
            "originator_id": str(notification.originator_id),
            "originator_version": int(notification.originator_version)}


class EventFailed(Exception):
    """A runner cannot apply one event (it does not decode, or the handler raised): it stops
    there, alone, and reports the event (`failed_event` in its state row)."""

    def __init__(self, entry: Logged, error: Exception):
        self.event = {**entry.describe(), "error": f"{type(error).__name__}: {error}"[:2000]}
        super().__init__(f"event at position {entry.position} ({entry.topic}, "
                         f"{self.event['originator_id']} v{self.event['originator_version']}): "
                         f"{self.event['error']}")


class LogReader:
    """Reads the log once for all runners: a window of recently read events is shared."""

    def __init__(self, source: EventSource, window: int = 20000, poll_interval: float = 0.1):
        self.source = source
        self.window = window
        self.poll_interval = poll_interval
        self._ids: list[int] = []
        self._events: list[Logged] = []
        self._lo = 0
        self._hi = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._head = source.head()
        self._stopped = threading.Event()
        self._poller: threading.Thread | None = None
        self._stale = False  # set by forget(): drop the window before serving from it
        self._queried_at = 0.0

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
    def fetch(self, after: int, limit: int) -> list[Logged]:
        """Uncached read."""
        return [Logged(n, self.source.decode) for n in self.source.select(after, limit)]

    def after(self, position: int, limit: int) -> list[Logged]:
        """Up to `limit` stored events after `position`, each decoded when a runner asks."""
        # At the known head there is nothing to read: each idle runner's turn would otherwise
        # cost a query. The head comes from commits (NOTIFY, this process, or the poller); a
        # query at least every second covers a wake-up that never came.
        if position >= self._head and time.monotonic() - self._queried_at < 1.0:
            return []
        with self._lock:
            if self._stale:
                self._stale = False
                self._ids, self._events, self._lo, self._hi = [], [], 0, 0
            if self._lo <= position < self._hi:
                i = bisect.bisect_right(self._ids, position)
                return self._events[i : i + limit]
            self._queried_at = time.monotonic()
            page = self.fetch(position, limit)
            if not page:
                return page
            if position != self._hi:
                self._ids, self._events, self._lo = [], [], position
            self._ids.extend(e.position for e in page)
            self._events.extend(page)
            self._hi = page[-1].position
            self._trim()
            if self._hi > self._head:
                self._head = self._hi
            return page

    def forget(self) -> None:
        """Drop the window's decoded events (a key was destroyed: they may hold that owner's data).
        Without the lock: it is called from decoding, which may run inside after()."""
        self._stale = True

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
    failed_event: dict[str, Any] | None = None  # the event it is stopped at (EventFailed)
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
        _add_state_columns(tx, {
            "failed_event": "TEXT",  # JSON: the event a failed runner is stopped at
            "skipped": f"{big} NOT NULL DEFAULT 0",  # events passed over undecoded (the feed)
            "last_skipped": "TEXT",  # JSON: the last of them
        })


def _add_state_columns(tx: Tx, wanted: dict[str, str]) -> None:
    """Columns newer than the table (made by an earlier release). Looked up first: an ALTER
    would wait for the row locks of every running projector even when there is nothing to add."""
    if tx.dialect == "postgres":
        have = {r["column_name"] for r in tx.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema()", (STATE_TABLE,))}
    else:
        have = {r["name"] for r in tx.execute(f"PRAGMA table_info({STATE_TABLE})")}
    for column, kind in wanted.items():
        if column not in have:
            tx.execute(f"ALTER TABLE {STATE_TABLE} ADD COLUMN {column} {kind}")


def state_json(value: str | None) -> dict[str, Any] | None:
    """A JSON column of the state row (failed_event, last_skipped), parsed."""
    return json.loads(value) if value else None


def read_state(db: Database, name: str) -> dict[str, Any] | None:
    rows = db.query(f"SELECT * FROM {STATE_TABLE} WHERE name = ?", (name,))
    return rows[0] if rows else None


def create_generation(tx: Tx, cls: type[Projector], generation: int) -> Projector:
    return create_tables(tx, cls, physical_names(cls, generation))


def create_tables(tx: Tx, cls: type[Projector], names: dict[str, str]) -> Projector:
    """A projector writing to fresh (emptied) tables of the given physical names."""
    projector = cls(names, tx.dialect)
    drop_tables(tx, names)
    for statement in projector.ddl():
        tx.execute(statement.format(**names))
    return projector


def point_views(tx: Tx, cls: type[Projector], generation: int) -> None:
    names = physical_names(cls, generation)
    for table in cls.tables:
        tx.execute(f"DROP VIEW IF EXISTS {table}")
        tx.execute(f"CREATE VIEW {table} AS SELECT * FROM {names[table]}")


def drop_generation(tx: Tx, cls: type[Projector], generation: int) -> None:
    drop_tables(tx, physical_names(cls, generation))


def drop_tables(tx: Tx, names: dict[str, str]) -> None:
    for name in names.values():
        tx.execute(f"DROP TABLE IF EXISTS {name}")


class Moved(Exception):
    """The runner's state row was moved by someone else (a rebuild's swap, another runner)."""

    def __init__(self, state: dict[str, Any]):
        super().__init__(f"projection state moved to {state}")
        self.state = state


class LazyPage:
    """A Tx whose transaction begins with the first statement, after `on_begin` checked it."""

    def __init__(self, db: Database, on_begin: Callable[[Tx], None]):
        self.db = db
        self.dialect = db.dialect
        self.on_begin = on_begin
        self.tx: Tx | None = None
        self._stack = ExitStack()

    def _begin(self) -> Tx:
        if self.tx is None:
            tx = self._stack.enter_context(_page_tx(self.db, durable=True))
            self.on_begin(tx)  # (which, on PostgreSQL, also skips the page's WAL flush wait)
            self.tx = tx
        return self.tx

    def execute(self, sql: str, params: Sequence[Any] = (), binary: bool = False
                ) -> list[dict[str, Any]]:
        return self._begin().execute(sql, params, binary)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._begin().executemany(sql, rows)

    def notify(self, channel: str, payload: str) -> None:
        self._begin().notify(channel, payload)

    def __enter__(self) -> LazyPage:
        return self

    def __exit__(self, *exc: Any) -> bool | None:
        return self._stack.__exit__(*exc)


class ProjectorRunner:
    """Follows the log for one projector; supervised: failures are retried with backoff."""

    # How long a position reached through pages the projector ignored may stay in memory only.
    # Waiters in this process see it at once; other processes' read-your-writes waits see it
    # this much later; a crash only makes the runner skip those pages again.
    flush_every: ClassVar[float] = 0.02

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
        self._stored = 0  # the position in the state table, as this runner last wrote or read it
        self._paused_until = 0.0  # standing by for the lease, or backing off after a failure
        self._stored_at = 0.0
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
            pause = self.turn()
            if pause is None:
                continue
            if self._paused_until:
                self._stop.wait(pause)
            else:
                self.reader.wait_beyond(self.status.position, pause)

    def turn(self, flush: bool = True) -> float | None:
        """One step of the supervised loop. None: more is waiting, go on. Otherwise how long
        this runner may sleep: until new events arrive (or a held position is due), or, standing
        by or backing off after a failure (`_paused_until` set), before it tries again."""
        now = time.monotonic()
        if now < self._paused_until:
            return self._paused_until - now
        self._paused_until = 0.0
        try:  # whatever goes wrong, the thread (shared by a group) lives on: back off, report
            if not self.lease.acquire(self.name):
                self.status.status = "standby"
                self._paused_until = now + 2.0
                return 2.0
            self.ensure()
            processed = self.step()
            if not processed and flush:
                self._flush()
        except Exception as error:
            backoff = self._failed(error)
            self._paused_until = time.monotonic() + backoff
            return backoff
        return None if processed else self._idle_wait()

    def _failed(self, error: Exception) -> float:
        """Record a failure; returns the backoff before the next attempt."""
        status = self.status
        status.failures += 1
        status.status = "failed"
        named = isinstance(error, EventFailed)  # its message names the event
        status.last_error = (str(error) if named else f"{type(error).__name__}: {error}")[:2000]
        status.failed_event = error.event if isinstance(error, EventFailed) else None
        status.last_failure_at = time.time()
        self._single = True  # narrow down to the one event that fails
        log.error("projector failed", extra={"projector": self.name,
                                             "position": status.position,
                                             "failed_event": status.failed_event,
                                             "failures": status.failures}, exc_info=error)
        self._record_failure()
        return min(self.max_backoff, 0.2 * 2 ** min(status.failures, 10))

    def _record_failure(self) -> None:
        event = self.status.failed_event
        try:
            with self.db.transaction() as tx:
                tx.execute(f"UPDATE {STATE_TABLE} SET status = 'failed', failures = ?, "
                           f"last_error = ?, failed_event = ?, updated_at = ? WHERE name = ?",
                           (self.status.failures, self.status.last_error,
                            json.dumps(event) if event else None, time.time(), self.name))
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
        self._stored_now(self.status.position)
        self.on_advance(self.name, self.status.position)

    def step(self) -> int:
        """Apply one page of events; returns how many were applied.

        The page's transaction begins with the projector's first statement: a page the projector
        ignores costs no transaction, only a position held in memory and stored a moment later
        (`_flush`). A busy log therefore costs each read model in proportion to its own events.
        """
        assert self.projector is not None
        batch = self.reader.after(self.status.position, 1 if self._single else self.page)
        if not batch:
            self._healthy()
            return 0
        claimed, batch = self._claimed(batch)
        page = LazyPage(self.db, self._check_unmoved)
        try:
            with page:
                if claimed:
                    self._apply(claimed, page)
                if page.tx is not None:
                    self._advance(page.tx, batch[-1].position)
        except Moved as moved:  # a rebuild swapped, or another runner advanced: follow it
            self._adopt(moved.state)
            return 0
        if page.tx is not None:
            self._stored_now(batch[-1].position)
        return self._applied(batch)

    def _claimed(self, batch: list[Logged]) -> tuple[list[tuple[Logged, Any]], list[Logged]]:
        """The page's events this projector claims, decoded (the rest stay undecoded), and the
        page itself, cut before the first claimed event that does not decode: what precedes it
        is applied, then the runner stops at it (EventFailed when it comes first)."""
        claimed = []
        for i, entry in enumerate(batch):
            if not self.cls.claims(entry.topic):
                continue
            try:
                claimed.append((entry, entry.event()))
            except Exception as error:
                if i == 0:
                    raise EventFailed(entry, error) from error
                return claimed, batch[:i]
        return claimed, batch

    def _apply(self, claimed: list[tuple[Logged, Any]], tx: LazyPage) -> None:
        assert self.projector is not None
        try:
            self.projector.apply_page([(entry.position, event) for entry, event in claimed], tx)
        except Moved:
            raise
        except Exception as error:
            if len(claimed) == 1:  # the one event that fails is known: name it
                raise EventFailed(claimed[0][0], error) from error
            raise

    def _check_unmoved(self, tx: Tx) -> None:
        """Lock our state row; raise Moved when it is not where this runner left it.

        On PostgreSQL the same round trip tells the transaction not to wait for the WAL flush at
        commit: a crash can only roll a page back together with its position."""
        lazy = ", set_config('synchronous_commit', 'off', true)" if tx.dialect == "postgres" else ""
        row = tx.execute(f"SELECT generation, position{lazy} FROM {STATE_TABLE} WHERE name = ? "
                         f"FOR UPDATE", (self.name,))[0]
        if row["generation"] != self.status.generation or row["position"] != self._stored:
            raise Moved(row)

    def _idle_wait(self) -> float:
        """How long to sleep for new events: not past the moment a held position is due."""
        due = 1.0 if self.status.position == self._stored else \
            self._stored_at + self.flush_every - time.monotonic()
        return min(1.0, max(0.0, due))

    def flush_due(self) -> bool:
        """A position reached through ignored pages that is `flush_every` old, not yet stored."""
        return (self.projector is not None and not self._paused_until
                and self.status.position != self._stored
                and time.monotonic() - self._stored_at >= self.flush_every)

    def _flush(self) -> None:
        if self.flush_due():
            store_positions(self.db, [self])

    def _stored_now(self, position: int) -> None:
        self._stored, self._stored_at = position, time.monotonic()

    def _advance(self, tx: Tx, last: int) -> None:
        update = f"UPDATE {STATE_TABLE} SET position = ?, {RUNNING}, updated_at = ? WHERE name = ?"
        params: tuple[Any, ...] = (last, time.time(), self.name)
        if tx.dialect != "postgres":
            tx.execute(update, params)
            return
        # The update and the NOTIFY (sent at commit) in one statement; executemany does not wait
        # for its result, so the page stays pipelined up to the commit.
        tx.executemany(f"WITH moved AS ({update} RETURNING position) "
                       f"SELECT pg_notify(?, ? || position) FROM moved",
                       [params + (NOTIFY_CHANNEL, f"{self.name}:")])

    def _applied(self, batch: Sequence[Logged]) -> int:
        last = batch[-1].position
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
            self.status.failed_event = None


def store_positions(db: Database, runners: Sequence[ProjectorRunner]) -> None:
    """Store the positions runners hold in memory, in one statement (and, on PostgreSQL, one
    NOTIFY `name:position,…`, no WAL flush wait). Conditional on the position each runner last
    stored: a runner whose state someone else moved (a rebuild) adopts it instead."""
    rows = [(r.name, r.status.generation, r._stored, r.status.position) for r in runners]
    if db.dialect == "postgres":
        values = ", ".join("(?::text, ?::integer, ?::bigint, ?::bigint)" for _ in rows)
        kept = db.query(
            f"WITH v (name, generation, stored, position) AS (VALUES {values}), "
            f"kept AS (UPDATE {STATE_TABLE} AS s SET position = v.position, {RUNNING},"
            f" updated_at = ? FROM v WHERE s.name = v.name"
            f" AND s.generation = v.generation AND s.position = v.stored"
            f" RETURNING s.name, s.position) "
            f"SELECT name, position, pg_notify(?, (SELECT string_agg(name || ':' || position,"
            f" ',') FROM kept)), set_config('synchronous_commit', 'off', true) FROM kept",
            [x for row in rows for x in row] + [time.time(), NOTIFY_CHANNEL])
        stored = {row["name"] for row in kept}
    else:
        stored = set()
        with db.transaction() as tx:
            for name, generation, before, position in rows:
                if tx.execute(f"UPDATE {STATE_TABLE} SET position = ?, {RUNNING}, updated_at = ? "
                              f"WHERE name = ? AND generation = ? AND position = ? RETURNING name",
                              (position, time.time(), name, generation, before)):
                    stored.add(name)
    for runner, (name, _, _, position) in zip(runners, rows, strict=True):
        if name in stored:
            runner._stored_now(position)
        else:
            state = read_state(db, name)
            assert state is not None
            runner._adopt(state)


class RunnerGroup:
    """Drives several runners from one thread, in turn.

    A runner per thread woke every runner on every commit, and on a busy log most of them found
    nothing of theirs in the page: the wake-ups, not the projections, took most of a projector
    process's CPU. One thread wakes once for all of them. Each runner keeps its own transaction,
    position, lease, failure record and backoff: a failing projector holds back no other one.
    The price: a slow page of one projector delays the others' (pages are bounded).
    """

    def __init__(self, runners: Sequence[ProjectorRunner], reader: LogReader, name: str):
        self.runners = list(runners)
        self.reader = reader
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        for runner in self.runners:  # one stop flag and one thread: `alive`, stop() still work
            runner._stop = self._stop
            runner._thread = self._thread

    def start(self) -> None:
        self._thread.start()

    def _flush(self) -> None:
        """Store the held positions that are due, all in one statement."""
        due = [runner for runner in self.runners if runner.flush_due()]
        if not due:
            return
        try:
            store_positions(due[0].db, due)
        except Exception:  # the database may be away: the positions stay held, tried again
            log.warning("could not store projection positions", exc_info=True)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)  # it notices within its wait (at most a second)
        for runner in self.runners:
            runner.lease.release(runner.name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            pauses = [runner.turn(flush=False) for runner in self.runners]
            if any(pause is None for pause in pauses):
                continue
            self._flush()
            waiting = [r.status.position for r, pause in zip(self.runners, pauses, strict=True)
                       if not r._paused_until]
            timeout = min(p for p in pauses if p is not None)
            if waiting:
                self.reader.wait_beyond(min(waiting), timeout)
            else:
                self._stop.wait(timeout)


# -- reading the log in pages for replays ---------------------------------------------------------
@dataclass
class Page:
    rows: Sequence[Any]  # the notifications as stored
    events: list[Event]  # decoded, in log order
    errors: list[tuple[Any, Exception]] = field(default_factory=list)  # rows that did not decode

    @property
    def last(self) -> int:
        return int(self.rows[-1].id)


def read_page(source: EventSource, after: int, size: int, upto: int | None = None,
              tolerant: bool = False) -> Page | None:
    """The next page after `after` (nothing beyond `upto`); None at the end. Tolerant, an event
    that does not decode is reported in `errors` instead of raising."""
    rows = [r for r in source.select(after, size) if upto is None or r.id <= upto]
    if not rows:
        return None
    page = Page(rows, [])
    for row in rows:
        try:
            page.events.append((row.id, source.decode(row)))
        except Exception as error:
            if not tolerant:
                raise
            page.errors.append((row, error))
    return page


def read_pages(source: EventSource, after: int, size: int = 2000, upto: int | None = None,
               tolerant: bool = False) -> Generator[Page, None, None]:
    """The log after `after`, page by page. The next page is read and decoded in a background
    thread while the caller applies the current one: decoding is most of a replay's cost, and
    applying spends much of its time in the database, outside the GIL. Close the iterator
    (contextlib.closing) when leaving early."""
    pages: queue.Queue[Page | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()
    thread = threading.Thread(target=_prefetch, name="log-prefetch", daemon=True,
                              args=(source, after, size, upto, tolerant, pages, stop))
    thread.start()
    try:
        while (item := pages.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(10)


def _prefetch(source: EventSource, after: int, size: int, upto: int | None, tolerant: bool,
              pages: queue.Queue[Page | BaseException | None], stop: threading.Event) -> None:
    last: Page | BaseException | None = None
    try:
        while not stop.is_set() and (page := read_page(source, after, size, upto, tolerant)):
            _offer(pages, page, stop)
            after = page.last
    except BaseException as error:  # the consumer raises it in its own thread
        last = error
    _offer(pages, last, stop)


def _offer(pages: queue.Queue[Page | BaseException | None], item: Page | BaseException | None,
           stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            pages.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


# -- generations filled from the log: rebuild shadows and verify scratch copies --------------------
@dataclass
class Target:
    """A generation being filled from the log beside the live one."""

    cls: type[Projector]
    names: dict[str, str]
    projector: Projector
    position: int = 0
    upto: int | None = None  # apply nothing beyond (a scratch copy stops at the live position)
    state_name: str | None = None  # a rebuild shadow keeps its position here, to resume
    generation: int = 0
    applied: int = 0
    error: str | None = None  # a tolerant replay stops applying at the first failure

    def pending(self, events: Sequence[Event]) -> list[Event]:
        if self.error is not None:
            return []
        return [e for e in events if e[0] > self.position and
                (self.upto is None or e[0] <= self.upto)]

    def apply(self, tx: Tx, events: Sequence[Event], last: int) -> None:
        """Apply what is pending of a page whose last position is `last`."""
        part = self.pending(events)
        if part:
            self.projector.apply_page(part, tx)
        position = last if self.upto is None else min(last, self.upto)
        if self.state_name and position > self.position:
            tx.execute(f"UPDATE {STATE_TABLE} SET position = ?, updated_at = ? WHERE name = ?",
                       (position, time.time(), self.state_name))
        self.position = max(self.position, position)
        self.applied += len(part)


def apply_to(db: Database, targets: Sequence[Target], page: Page, tolerant: bool = False) -> None:
    """One transaction per target per page; tolerant, a failing target is set aside."""
    for target in targets:
        if target.error is not None or target.position >= page.last or (
                target.upto is not None and target.position >= target.upto):
            continue
        position, applied = target.position, target.applied
        try:
            with _page_tx(db) as tx:
                target.apply(tx, page.events, page.last)
        except Exception as error:
            target.position, target.applied = position, applied  # rolled back with the page
            if not tolerant:
                raise
            target.error = f"{type(error).__name__} applying events after {position}: {error}"


def fill(db: Database, source: EventSource, targets: Sequence[Target], after: int,
         upto: int | None, page: int = 2000, progress: Callable[[int, int], None] | None = None,
         tolerant: bool = False, each: Callable[[Page], None] | None = None) -> int:
    """Read the log once from `after` (to `upto`, or the head) and apply each page to every
    target; `each` sees every page first. Returns how many events were read."""
    read = 0
    with closing(read_pages(source, after, page, upto, tolerant)) as pages:
        for current in pages:
            if each is not None:
                each(current)
            apply_to(db, targets, current, tolerant)
            read += len(current.rows)
            if progress:
                progress(read, current.last)
    return read


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


@contextmanager
def _page_tx(db: Database, durable: bool = False) -> Iterator[Tx]:
    """Read-model pages: pipelined and (unless `durable`) not waiting for the WAL flush where
    the database can."""
    pipelined = getattr(db, "pipelined", None)
    with (pipelined(durable=durable) if pipelined else db.transaction()) as tx:
        yield tx
