"""Group commit: events of commands that arrive together are written in one transaction.

The PostgreSQL recorder locks the events table for each insert and holds the lock through the commit's
WAL flush, so one insert per command caps the system at one command per flush. A single committer
thread drains everything queued while the previous transaction was flushing and writes it as one
insert; when many threads are writing, it first waits a moment for more (see `_drain`). Two
commands of one batch on the same aggregate version cannot both land: the later one fails before
the insert. If a batch still fails (a version taken in the log, a bad row), its commands are
written one by one so that only the guilty command fails; a batch that lost the database is not
(each would wait for it again): all its commands get the recorder's `Unavailable` at once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent

from application.errors import ConcurrencyConflict, Unavailable
from infrastructure.availability import is_database_away

log = logging.getLogger("chronicle.commit")
WRITER_WINDOW = 0.05
GATHER_STEP = 0.0005


class _Pending:
    """One command's events and the answer its thread waits for: a bare lock, taken at birth and
    released by the committer (a `Future` takes a condition variable and its lock per wait, a
    measurable share of a small command)."""

    __slots__ = ("events", "ids", "error", "_done")

    def __init__(self, events: Sequence[StoredEvent]):
        self.events = events
        self.ids: list[int] = []
        self.error: BaseException | None = None
        self._done = threading.Lock()
        self._done.acquire()

    def resolve(self, ids: list[int]) -> None:
        self.ids = ids
        self._done.release()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._done.release()

    def wait(self, timeout: float) -> list[int]:
        if not self._done.acquire(timeout=timeout):
            # Still queued or being written: it may land after this answer.
            raise Unavailable(Unavailable.OUTCOME_UNKNOWN)
        if self.error is not None:
            raise self.error
        return self.ids


class _AsyncPending(_Pending):
    """A command awaiting its commit on an event loop. The committer settles all of a batch's
    commands of one loop with a single call into that loop, instead of a wake-up each."""

    __slots__ = ("loop", "future")

    def __init__(self, events: Sequence[StoredEvent], loop: asyncio.AbstractEventLoop):
        self.events = events
        self.ids = []
        self.error = None
        self.loop = loop
        self.future: asyncio.Future[list[int]] = loop.create_future()

    def resolve(self, ids: list[int]) -> None:
        self.ids = ids

    def fail(self, error: BaseException) -> None:
        self.error = error

    def settle(self) -> None:
        if self.future.done():  # its caller went away (cancelled); the commit stands
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        else:
            self.future.set_result(self.ids)


def _settle_all(pendings: list[_AsyncPending]) -> None:
    for pending in pendings:
        pending.settle()


class GroupCommitter:
    def __init__(self, recorder: ApplicationRecorder, max_events: int = 1000,
                 on_commit: Callable[[int], None] | None = None,
                 on_batch: Callable[[int, int, float], None] | None = None,
                 gather: float = 0.003):
        self.recorder = recorder
        self.max_events = max_events
        self.on_commit = on_commit
        self.on_batch = on_batch
        self.gather = gather
        self._writers: dict[int, float] = {}  # thread or task → when it last committed
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._closed = False
        self._thread.start()

    def commit(self, events: Sequence[StoredEvent], timeout: float = 60.0) -> list[int]:
        if not events:
            return []
        if self._closed:
            raise RuntimeError("committer is closed")
        pending = _Pending(events)
        self._writers[threading.get_ident()] = time.monotonic()
        self._queue.put(pending)
        return pending.wait(timeout)

    async def commit_async(self, events: Sequence[StoredEvent]) -> list[int]:
        if not events:
            return []
        if self._closed:
            raise RuntimeError("committer is closed")
        pending = _AsyncPending(events, asyncio.get_running_loop())
        self._writers[id(asyncio.current_task())] = time.monotonic()  # a writer per task
        self._queue.put(pending)
        return await pending.future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._refuse_queued()

    def _refuse_queued(self) -> None:
        """Commands that queued behind the close get an answer instead of waiting forever."""
        left: list[_Pending] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.fail(RuntimeError("committer is closed"))
                left.append(item)
        self._settle(left)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._drain(first)
            self._write(self._refuse_clashes(batch))
            self._settle(batch)
            if stop:
                return

    def _drain(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """Everything queued, and under load a little more: the batch waits (at most `gather`
        seconds) for half the threads that have been writing lately. Without the wait a
        committer faster than its writers sends batches of two or three, and a CPU-bound
        process pays the insert's fixed cost per batch many times over. It waits in short
        sleeps rather than on the queue: a wake-up per arriving command took the GIL from the
        very threads it was waiting for."""
        batch = [first]
        size = len(first.events)
        wanted = self._active_writers() / 2
        deadline = time.monotonic() + self.gather if wanted > 1 else 0.0
        while size < self.max_events:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if len(batch) >= wanted or remaining <= 0:
                    break
                time.sleep(min(remaining, GATHER_STEP))
                continue
            if item is None:
                return batch, True
            batch.append(item)
            size += len(item.events)
        return batch, False

    def _active_writers(self) -> int:
        """Threads and tasks that committed within the last `WRITER_WINDOW` seconds."""
        since = time.monotonic() - WRITER_WINDOW
        writers = self._writers
        for ident, seen in list(writers.items()):
            if seen < since:
                writers.pop(ident, None)
        return len(writers)

    @staticmethod
    def _refuse_clashes(batch: list[_Pending]) -> list[_Pending]:
        """Commands whose events take a version an earlier command of the batch takes fail at
        once: left in, they would fail the batch and send all its commands one by one."""
        taken: set[tuple[object, int]] = set()
        kept = []
        for pending in batch:
            versions = {(e.originator_id, e.originator_version) for e in pending.events}
            if taken.isdisjoint(versions):
                taken |= versions
                kept.append(pending)
            else:
                pending.fail(ConcurrencyConflict("version taken by a command in the same batch"))
        return kept

    def _write(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        events = [e for p in batch for e in p.events]
        try:
            ids = self._insert(events)
        except Exception as error:
            if len(batch) == 1 or is_database_away(error):
                for pending in batch:
                    self._fail(pending, error)
            else:
                for pending in batch:
                    self._write([pending])
            return
        offset = 0
        for pending in batch:
            count = len(pending.events)
            pending.resolve(ids[offset : offset + count])
            offset += count
        if self.on_batch:
            self.on_batch(len(batch), len(events), time.perf_counter() - started)
        if self.on_commit and ids:
            self.on_commit(max(ids))

    @staticmethod
    def _settle(batch: list[_Pending]) -> None:
        """Hand each event loop its commands' answers (the threads have theirs already)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_AsyncPending]] = {}
        for pending in batch:
            if isinstance(pending, _AsyncPending):
                by_loop.setdefault(pending.loop, []).append(pending)
        for loop, pendings in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, pendings)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                log.warning("commit answered to a closed event loop")

    def _insert(self, events: list[StoredEvent]) -> list[int]:
        ids = self.recorder.insert_events(events)
        if not ids or len(ids) != len(events):
            raise RuntimeError("recorder returned no notification ids")
        return list(ids)

    @staticmethod
    def _fail(pending: _Pending, error: Exception) -> None:
        if isinstance(error, IntegrityError):
            pending.fail(ConcurrencyConflict(str(error)))
        elif is_database_away(error):
            # pg_recorder settles a lost batch itself and says how; a bare driver error comes
            # from a recorder that does not, so the batch may have landed.
            log.warning("commit failed: the database is away", extra={"error": str(error)})
            pending.fail(error if isinstance(error, Unavailable)
                         else Unavailable(Unavailable.OUTCOME_UNKNOWN))
        else:
            log.error("commit failed", exc_info=error)
            pending.fail(error)
