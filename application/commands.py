"""Running a command: load fresh state, decide, save; retried when another writer won the race."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


@dataclass
class Outcome(Generic[T]):
    value: T
    position: int


class CommandRunner:
    def __init__(self, store: EventStorePort, retries: int = 5,
                 on_command: Callable[[str, float, bool], None] | None = None):
        self.store = store
        self.retries = retries
        self.on_command = on_command

    def run(self, name: str, decide: Callable[[], tuple[T, list[Any]]]) -> Outcome[T]:
        """`decide` loads what it needs, calls aggregate methods and returns (result, aggregates)."""
        started = time.perf_counter()
        for attempt in range(self.retries + 1):
            token = _optimistic.set(attempt == 0)
            try:
                value, aggregates = decide()
            finally:
                _optimistic.reset(token)
            try:
                position = self.store.save(*aggregates) if aggregates else 0
            except ConcurrencyConflict:
                log.info("command conflict, retrying", extra={"command": name, "attempt": attempt})
                time.sleep(0.002 * (2**attempt))
                continue
            self._observe(name, started, True)
            return Outcome(value, position)
        self._observe(name, started, False)
        raise Conflict(CONFLICT_DETAIL)

    def _observe(self, name: str, started: float, ok: bool) -> None:
        if self.on_command:
            self.on_command(name, time.perf_counter() - started, ok)
