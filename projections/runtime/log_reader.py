"""The log as the live runners read it: one shared window of stored events, each decoded on first
demand (`Logged`), and the report of an event a runner cannot apply (`EventFailed`)."""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from projections.runtime.contract import EventSource

log = logging.getLogger("chronicle.projections")


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
