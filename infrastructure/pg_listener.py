"""LISTEN for new events and projection progress written by other processes (PostgreSQL only)."""

from __future__ import annotations

import logging
import threading
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
                    handler = self.channels.get(note.channel)
                    if handler:
                        handler(note.payload)
                    if self._stop.is_set():
                        return


class PgLease:
    """One active runner per projector across processes: a session advisory lock per name."""

    def __init__(self, url: str):
        self.url = url
        self._conns: dict[str, psycopg.Connection] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str) -> bool:
        with self._lock:
            conn = self._conns.get(name)
            if conn is not None and not conn.closed:
                return True
            conn = psycopg.connect(self.url, autocommit=True)
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                               (f"chronicle:{name}",)).fetchone()
            if row and row[0]:
                self._conns[name] = conn
                return True
            conn.close()
            return False

    def release(self, name: str) -> None:
        with self._lock:
            conn = self._conns.pop(name, None)
            if conn is not None:
                conn.close()
