"""Running a command: load fresh state, decide, save; retried when another writer won the race."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from anyio import to_thread

from application.errors import ConcurrencyConflict, Conflict
from application.ports import EventStorePort

T = TypeVar("T")
log = logging.getLogger("chronicle.commands")

CONFLICT_DETAIL = "The resource was changed by another request; please retry."

# A command's first attempt may decide on cached aggregates: a stale one cannot be saved (its next
# version already exists), so the conflict sends the retry to fresh state.
_optimistic: ContextVar[bool] = ContextVar("chronicle_optimistic_reads", default=False)


def optimistic_reads() -> bool:
    return _optimistic.get()


# A command run on the event loop (`run_async`) must not wait on I/O: the loop serves every
# other request meanwhile. Whatever would (a store read that misses the cache, a read-model or
# key-vault query) raises `WouldBlock` instead, and the command starts over on a worker thread.
_inline: ContextVar[bool] = ContextVar("chronicle_inline_command", default=False)


class WouldBlock(BaseException):
    """Raised where a command on the event loop would wait on I/O. A BaseException, so that no
    `except Exception` on the way (a best-effort cache refresh, say) takes it for a failure."""


def forbid_blocking() -> None:
    """Called by adapters before they wait on I/O."""
    if _inline.get():
        raise WouldBlock


def blocking_allowed(function: Callable[..., T], *args: Any) -> T:
    """Call `function` where waiting is fine: for work a loop command hands to a thread, whose
    context it copies (and with it the ban)."""
    token = _inline.set(False)
    try:
        return function(*args)
    finally:
        _inline.reset(token)


@dataclass
class Outcome(Generic[T]):
    value: T
    position: int


class KeyedLocks:
    """Per-aggregate locks, created on demand and dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def contested(self, keys: Iterable[Hashable]) -> bool:
        """Whether a retry of this process holds or waits for any of these keys."""
        locks = self._locks
        return any(key in locks for key in keys)


class CommandRunner:
    def __init__(self, store: EventStorePort, retries: int = 5,
                 on_command: Callable[[str, float, bool], None] | None = None):
        self.store = store
        self.retries = retries
        self.on_command = on_command
        self.locks = KeyedLocks()

    def run(self, name: str, decide: Callable[[], tuple[T, list[Any]]]) -> Outcome[T]:
        """`decide` loads what it needs, calls aggregate methods and returns (result, aggregates).

        Once a command has lost a race, its retries hold this process's locks on the contested
        aggregates, and first attempts on a locked aggregate join that queue instead of racing it:
        commands of one process on one aggregate take turns instead of colliding again (a retry
        that kept losing to newcomers would run out of attempts). Other processes are still kept
        out by the version check alone.
        """
        started = time.perf_counter()
        outcome: Outcome[T] | None
        try:
            outcome = self._attempt(decide, optimistic=True)
        except ConcurrencyConflict as conflict:
            outcome = self._retry(name, decide, conflict)
        self._observe(name, started, outcome is not None)
        if outcome is None:
            raise Conflict(CONFLICT_DETAIL)
        return outcome

    async def run_async(self, name: str, decide: Callable[[], tuple[T, list[Any]]]) -> Outcome[T]:
        """`run` for a caller on an event loop. The first attempt decides on the loop itself and
        awaits its commit: no thread hand-offs, which under load cost more CPU than the command
        (docs/benchmarks.md). A command that would wait on I/O, or finds its aggregate held by a
        retry, runs as `run` does on a worker thread; one that loses a race retries there."""
        started = time.perf_counter()
        try:
            outcome = await self._attempt_inline(decide)
        except ConcurrencyConflict as conflict:
            outcome = await to_thread.run_sync(self._retry, name, decide, conflict)
            self._observe(name, started, outcome is not None)
            if outcome is None:
                raise Conflict(CONFLICT_DETAIL) from None
            return outcome
        if outcome is None:
            return await to_thread.run_sync(self.run, name, decide)
        self._observe(name, started, True)
        return outcome

    async def _attempt_inline(self, decide: Callable[[], tuple[T, list[Any]]]
                              ) -> Outcome[T] | None:
        """The outcome, or None when the command has to go to a thread."""
        inline, optimistic = _inline.set(True), _optimistic.set(True)
        try:
            value, aggregates = decide()
            if not aggregates:
                return Outcome(value, 0)
            if self.locks.contested(a.id for a in aggregates):
                return None
            return Outcome(value, await self.store.save_async(*aggregates))
        except WouldBlock:
            return None
        finally:
            _inline.reset(inline)
            _optimistic.reset(optimistic)

    def _retry(self, name: str, decide: Callable[[], tuple[T, list[Any]]],
               conflict: ConcurrencyConflict) -> Outcome[T] | None:
        with ExitStack() as held:
            locked: set[Hashable] = set()
            for failed in range(self.retries):
                log.info("command conflict, retrying", extra={"command": name, "attempt": failed})
                for key in sorted(set(conflict.aggregate_ids) - locked, key=str):
                    held.enter_context(self.locks.hold(key))
                    locked.add(key)
                time.sleep(random.uniform(0, 0.002 * 2**failed))
                try:
                    return self._attempt(decide, optimistic=False)
                except ConcurrencyConflict as again:
                    conflict = again
        return None

    def _attempt(self, decide: Callable[[], tuple[T, list[Any]]], optimistic: bool) -> Outcome[T]:
        token = _optimistic.set(optimistic)
        try:
            value, aggregates = decide()
        finally:
            _optimistic.reset(token)
        if not aggregates:
            return Outcome(value, 0)
        if optimistic and self.locks.contested(a.id for a in aggregates):
            raise ConcurrencyConflict("queued behind a retry", tuple(a.id for a in aggregates))
        return Outcome(value, self.store.save(*aggregates))

    def _observe(self, name: str, started: float, ok: bool) -> None:
        if self.on_command:
            self.on_command(name, time.perf_counter() - started, ok)
