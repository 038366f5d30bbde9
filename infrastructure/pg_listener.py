"""LISTEN for new events and projection progress written by other processes (PostgreSQL only)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import psycopg

log = logging.getLogger("chronicle.listen")


class PgListener:
    def __init__(self, url: str, channels: dict[str, Callable[[str], None]]):
        self.url = url
        self.channels = channels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:
                if self._stop.is_set():
                    return
                log.warning("LISTEN connection lost; reconnecting", exc_info=True)
                self._stop.wait(1.0)

    def _listen(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for channel in self.channels:
                conn.execute(f'LISTEN "{channel}"')
            for handler in self.channels.values():
                handler("")  # catch up on whatever happened while we were not listening
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    on_note = self.channels.get(note.channel)
                    if on_note is not None:
                        on_note(note.payload)
                    if self._stop.is_set():
                        return


class PgLease:
    """One active runner per projector across processes: a session advisory lock per name.

    All of a process's locks live on one connection; if it drops, every lock is gone, and the
    runners find out at a later acquire() and stand by until they win again. Runners call
    acquire() before every page, so a held lock's connection is checked at most every
    `recheck` seconds: a runner may go on for that long after losing it, which its state row's
    position check makes harmless (a page is applied once whoever applies it).
    """

    def __init__(self, url: str, recheck: float = 1.0):
        self.url = url
        self.recheck = recheck
        self._conn: psycopg.Connection | None = None
        self._held: set[str] = set()
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url, autocommit=True)
            self._held.clear()
        return self._conn

    def acquire(self, name: str) -> bool:
        with self._lock:
            try:
                conn = self._connection()
                if name in self._held:
                    if time.monotonic() - self._checked_at >= self.recheck:
                        conn.execute("SELECT 1")  # still connected, so still holding it
                        self._checked_at = time.monotonic()
                    return True
                row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                   (f"chronicle:{name}",)).fetchone()
            except psycopg.Error:
                self._conn = None
                return False
            if row and row[0]:
                self._held.add(name)
                return True
            return False

    def release(self, name: str) -> None:
        with self._lock:
            if name in self._held and self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg.Error):
                    self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))",
                                       (f"chronicle:{name}",))
            self._held.discard(name)
            if not self._held and self._conn is not None:
                self._conn.close()
                self._conn = None
