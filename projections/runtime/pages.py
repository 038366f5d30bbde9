"""The log read in pages for replays, the generations those pages fill (`Target`), and the
transaction a read-model page is written in (`page_tx`, also the live runners')."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

from infrastructure.sql import Database, Tx
from projections.runtime.contract import Event, EventSource, Projector
from projections.runtime.state import STATE_TABLE


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
            with page_tx(db) as tx:
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


@contextmanager
def page_tx(db: Database, durable: bool = False) -> Iterator[Tx]:
    """Read-model pages: pipelined and (unless `durable`) not waiting for the WAL flush where
    the database can."""
    pipelined = getattr(db, "pipelined", None)
    with (pipelined(durable=durable) if pipelined else db.transaction()) as tx:
        yield tx
