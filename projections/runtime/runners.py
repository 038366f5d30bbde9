"""The live runners: each follows the log for one projector and writes a page's rows and its
position in one transaction; a group drives several from one thread. Supervised: a failure is
retried with backoff, and an event a runner cannot apply stops that runner alone.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from infrastructure.sql import Database, Tx
from projections.runtime.contract import Projector, physical_names
from projections.runtime.log_reader import EventFailed, Logged, LogReader
from projections.runtime.pages import page_tx
from projections.runtime.rebuild import rebuild
from projections.runtime.state import (
    NOTIFY_CHANNEL,
    RUNNING,
    STATE_TABLE,
    create_generation,
    point_views,
    read_state,
)

log = logging.getLogger("chronicle.projections")


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
            tx = self._stack.enter_context(page_tx(self.db, durable=True))
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
