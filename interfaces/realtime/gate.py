"""Per-socket delivery of the `events` feed: in log order, once, with a resume buffer.

Every worker's Socket.IO manager passes the feed through this gate before it reaches a socket.
A socket that resumes from a position first gets the missed payloads read from the log while live
ones wait in its buffer; then the buffer is drained and live payloads flow. A payload whose position
the socket already has (replayed, or republished by an at-least-once feed) is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
from socketio import packet
from socketio.async_manager import AsyncManager

from projections.realtime import EVENTS, NOTE_ACCESS, REVOKE

log = logging.getLogger("chronicle.realtime")
NAMESPACE = "/"
BATCH = "chronicle.batch"  # a pub/sub message holding several, published in one turn
MAX_BUFFER = 10_000  # live payloads held for one resuming socket; past that it must resync
NoteAccess = Callable[[str, int], Awaitable[None]]  # (note id, log position): check its rooms


class Feed:
    __slots__ = ("buffer", "last", "overflow")

    def __init__(self, last: int, resuming: bool):
        self.last = last
        self.buffer: list[tuple[int, dict[str, Any]]] | None = [] if resuming else None
        self.overflow = False


class FeedGate(AsyncManager):
    """The in-process manager (embedded); GatedRedisManager adds Redis fan-out across workers."""

    def __init__(self, *args: Any, note_access: NoteAccess | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.feeds: dict[str, Feed] = {}
        self.note_access = note_access

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, sid: str, position: int | None) -> None:
        self.feeds[sid] = Feed(position or 0, resuming=position is not None)

    def unsubscribe(self, sid: str) -> None:
        self.feeds.pop(sid, None)

    def subscribed(self, sid: str) -> bool:
        return sid in self.feeds

    # -- the feed ---------------------------------------------------------------------------
    async def emit(self, event: str, data: Any, namespace: str | None = None, room: Any = None,
                   skip_sid: Any = None, callback: Any = None, to: Any = None,
                   **kwargs: Any) -> None:
        room = to or room
        if event == REVOKE and isinstance(room, str):
            await self._revoke(room)
            return
        if event == NOTE_ACCESS:
            if self.note_access is not None and isinstance(data, dict):
                await self.note_access(str(data.get("note_id")), int(data.get("position") or 0))
            return
        position = data.get("position") if event == EVENTS and isinstance(data, dict) else None
        if not isinstance(position, int) and isinstance(room, str) and callback is None \
                and (namespace or NAMESPACE) == NAMESPACE:
            await self._deliver(event, data, room, skip_sid)
            return
        if not isinstance(position, int) or not isinstance(room, str):
            await super().emit(event, data, namespace or NAMESPACE, room=room, skip_sid=skip_sid,
                               callback=callback, **kwargs)
            return
        for sid, _ in list(self.get_participants(NAMESPACE, room)):
            await self.offer(sid, position, data)

    async def offer(self, sid: str, position: int, payload: dict[str, Any]) -> None:
        feed = self.feeds.get(sid)
        if feed is None:
            return
        if feed.buffer is not None:
            if len(feed.buffer) >= MAX_BUFFER:
                feed.overflow = True
            else:
                feed.buffer.append((position, payload))
            return
        if position > feed.last:
            feed.last = position
            await self.send(sid, EVENTS, payload)

    async def replayed(self, sid: str, position: int, payload: dict[str, Any]) -> None:
        """A payload read from the log for a resuming socket."""
        feed = self.feeds.get(sid)
        if feed is not None and position > feed.last:
            feed.last = position
            await self.send(sid, EVENTS, payload)

    async def go_live(self, sid: str, skip_to: int | None = None) -> bool:
        """Drain what arrived during the replay, then deliver live. False: the socket must resync."""
        feed = self.feeds.get(sid)
        if feed is None:
            return True
        if skip_to is not None:  # a resync: the client refetches up to here, whatever it claimed
            feed.last = skip_to
        while feed.buffer:
            pending, feed.buffer = sorted(feed.buffer, key=lambda item: item[0]), []
            for position, payload in pending:
                if position > feed.last:
                    feed.last = position
                    await self.send(sid, EVENTS, payload)
        feed.buffer = None  # no await since the last check: nothing can slip in between
        return not feed.overflow

    async def _deliver(self, event: str, data: Any, room: str, skip_sid: Any) -> None:
        """A room's sockets on this worker, the packet encoded once and queued on each socket:
        the library's room emit spawns a task per recipient, which a streamed reply (one emit
        per token) pays for thousands of times a second."""
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        recipients = [eio for sid, eio in self.get_participants(NAMESPACE, room)
                      if sid not in skipped]
        if not recipients:
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(packet.EVENT, namespace=NAMESPACE,
                                           data=[event, *args]).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        for eio_sid in recipients:
            for part in parts:
                await self.server.eio.send(eio_sid, part)

    async def send(self, sid: str, event: str, data: Any) -> None:
        """To one socket of this worker: straight to engine.io, no pub/sub round trip and none of
        the per-recipient task that a room emit spawns."""
        eio_sid = self.eio_sid_from_sid(sid, NAMESPACE)
        if eio_sid is None:
            return
        encoded = self.server.packet_class(packet.EVENT, namespace=NAMESPACE,
                                           data=[event, data]).encode()
        for part in encoded if isinstance(encoded, list) else [encoded]:
            await self.server.eio.send(eio_sid, part)

    async def _revoke(self, room: str) -> None:
        for sid, _ in list(self.get_participants(NAMESPACE, room)):
            log.info("disconnecting a socket whose user changed", extra={"room": room})
            await self.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)


class GatedRedisManager(socketio.AsyncRedisManager, FeedGate):
    """Redis fan-out: the pub/sub listener's local delivery (AsyncManager.emit) goes through the gate.

    What one worker publishes in one turn of its event loop goes to Redis as one message (in
    order): two hundred streamed replies are ten thousand emits a second, and a Redis round trip
    and a listener wake-up on every worker for each was most of their cost."""

    def __init__(self, *args: Any, note_access: NoteAccess | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)  # FeedGate's __init__ runs inside, without the hook
        self.note_access = note_access
        self._outbox: list[dict[str, Any]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def _publish(self, data: Any) -> None:
        self._outbox.append(data)
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # the rest of this turn's emits join the batch
            while self._outbox:
                batch, self._outbox = self._outbox, []
                await super()._publish(batch[0] if len(batch) == 1 else
                                       {"method": BATCH, "messages": batch})
        finally:
            self._flushing = None

    async def _listen(self) -> AsyncIterator[Any]:
        async for raw in super()._listen():
            try:
                message = self.json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("method") == BATCH:
                for inner in message.get("messages") or []:
                    yield inner
            else:
                yield message
