"""Coalescing the collaborative editor's content snapshots into note saves.

The editor sends its whole content with every Yjs update, keystroke by keystroke. Each would be
a command on the Note aggregate, and an event, if saved as it came: instead the latest snapshot
of a document waits until its editors pause for `quiet` seconds (Open WebUI debounces the same
way) and is saved once; while they keep typing it is saved at least every `longest` seconds.
Pending snapshots are saved when the server stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from application.auth import Principal

log = logging.getLogger("chronicle.realtime")

Save = Callable[[str, dict[str, Any], Principal], Awaitable[None]]


@dataclass
class Pending:
    content: dict[str, Any]
    principal: Principal
    first: float  # when the burst began
    last: float  # the latest snapshot


class Coalescer:
    def __init__(self, save: Save, quiet: float = 0.5, longest: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.save = save
        self.quiet = quiet
        self.longest = longest
        self.clock = clock
        self.pending: dict[str, Pending] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def offer(self, document_id: str, content: dict[str, Any], principal: Principal) -> None:
        """The document's newest snapshot replaces any waiting one (the last editor saves it)."""
        now = self.clock()
        waiting = self.pending.get(document_id)
        first = waiting.first if waiting is not None else now
        self.pending[document_id] = Pending(content, principal, first, now)
        if document_id not in self.tasks:
            self.tasks[document_id] = asyncio.ensure_future(self._later(document_id))

    async def _later(self, document_id: str) -> None:
        """Save once the burst is over; snapshots offered meanwhile (the save takes a while)
        start the next burst, which this task waits for too."""
        try:
            while document_id in self.pending:
                item = self.pending[document_id]
                due = min(item.last + self.quiet, item.first + self.longest) - self.clock()
                if due > 0:
                    await asyncio.sleep(due)
                else:
                    await self._save(document_id)
        finally:
            self.tasks.pop(document_id, None)

    async def _save(self, document_id: str) -> None:
        item = self.pending.pop(document_id, None)
        if item is None:
            return
        try:
            await self.save(document_id, item.content, item.principal)
        except Exception:  # the editor keeps its document; the next snapshot saves again
            log.warning("saving a note's content failed", exc_info=True,
                        extra={"document_id": document_id})

    async def flush(self) -> None:
        """Save every waiting snapshot now (the server is stopping)."""
        for task in list(self.tasks.values()):
            task.cancel()
        for document_id in list(self.pending):
            await self._save(document_id)

    def size(self) -> int:
        return len(self.pending) + len(self.tasks)
