"""The Socket.IO server at /ws/socket.io: Open WebUI's client events, and the resumable feed.

Sockets connect unconditionally (as in Open WebUI) but receive nothing until a token proves a
verified user: then they join `user:{id}`, where the realtime feed (projections/realtime.py)
delivers. A client that passes its last seen `position` (connect `auth`, or `user-join`) first
gets what it missed from the log, then live payloads, with no gap and no duplicate (gate.py).

Handlers never raise: a bad payload earns the sender an `error` event and the socket stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from application.auth import Principal
from application.errors import ApplicationError
from application.realtime import RealtimeAccess, normalize_document_id, note_id_of
from infrastructure.settings import Settings
from infrastructure.ydoc_store import check_update
from interfaces.realtime.faults import CheckedServer, library_loggers
from interfaces.realtime.gate import NAMESPACE, FeedGate, GatedRedisManager
from interfaces.realtime.limits import MAX_FRAME, Limits
from interfaces.realtime.saves import Coalescer
from interfaces.realtime.usage import UsagePool
from interfaces.schemas.json_limits import json_depth
from projections.realtime import LoopPublisher, replay_page, socketio_channel, user_room

log = logging.getLogger("chronicle.realtime")

SOCKETIO_PATH = "/ws/socket.io"
RESYNC = "chronicle:resync"  # the client is too far behind for a replay: refetch, then go on
MAX_UPDATE = 1024 * 1024  # one Yjs document update
MAX_AWARENESS = 64 * 1024
MAX_DEPTH = 200  # a content snapshot's nesting, as a note's data over REST
MAX_RELAY = 16 * 1024  # a channel event's data, as JSON
MAX_TEXT = 512
MAX_REPLAY = 100_000  # log positions a resume may scan
VERIFIED = ("user", "admin")


class BadPayload(ValueError):
    """The client sent something malformed: answered with an `error` event."""


@dataclass
class Member:
    principal: Principal
    name: str


Handler = Callable[..., Awaitable[Any]]


def guarded(event: str) -> Callable[[Handler], Handler]:
    """Any payload shape (or none) reaches the handler; failures answer `error`, never drop."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(self: Realtime, sid: str, *args: Any) -> Any:
            try:
                return await handler(self, sid, args[0] if args else None)
            except BadPayload as error:
                await self.gate.send(sid, "error", {"message": str(error), "event": event})
            except Exception:
                log.exception("socket handler failed", extra={"event": event})
                await self.gate.send(sid, "error", {"message": "internal error", "event": event})
            return None

        run.event = event  # type: ignore[attr-defined]
        return run

    return wrap


def _obj(value: Any, what: str = "payload") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayload(f"{what} must be an object")
    return value


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise BadPayload(f"{key} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _binary(value: Any, limit: int, what: str) -> bytes:
    """Yjs payloads arrive as a list of byte values (Open WebUI) or as a binary attachment."""
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, list):
        if len(value) > limit:
            raise BadPayload(f"{what} is larger than {limit} bytes")
        try:
            data = bytes(value)
        except (TypeError, ValueError):
            raise BadPayload(f"{what} must be a list of byte values") from None
    else:
        raise BadPayload(f"{what} must be bytes or a list of byte values")
    if not data or len(data) > limit:
        raise BadPayload(f"{what} must have 1 to {limit} bytes")
    return data


def _position(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadPayload("position must be a non-negative integer")
    return value


class Realtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.channel = socketio_channel(settings.DATABASE_URL)
        self.gate: FeedGate = (
            GatedRedisManager(settings.REDIS_URL, channel=self.channel,
                              note_access=self._recheck_note)
            if settings.REDIS_URL else FeedGate(note_access=self._recheck_note))
        origins = [o.strip() for o in settings.CORS_ALLOW_ORIGIN.split(";") if o.strip()]
        # max_http_buffer_size bounds polling bodies only; FrameGuard bounds websocket frames.
        self.sio = CheckedServer(
            async_mode="asgi", client_manager=self.gate, transports=["websocket"],
            cors_allowed_origins="*" if origins == ["*"] else origins, always_connect=True,
            max_http_buffer_size=MAX_FRAME, **library_loggers())
        self.limits = Limits(settings.SOCKETIO_EVENT_RATE, settings.SOCKETIO_EVENT_BURST,
                             settings.SOCKETIO_FLOOD_LIMIT)
        self.connections = 0  # websocket connections open (each with its FrameGuard)
        self.members: dict[str, Member] = {}
        self._binding: dict[str, asyncio.Lock] = {}  # connect and user-join may race per socket
        self.container: Any = None
        self.access: RealtimeAccess | None = None
        self.usage = UsagePool()  # in memory and empty until start() hands over the container's
        self._own_publisher: LoopPublisher | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ordering: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # document: (lock, users)
        self.saves = Coalescer(self._save_note)  # the editor's snapshots, one save per burst
        self._register()

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, container: Any) -> None:
        self.container = container
        self.access, self.usage = container.realtime_access, container.usage
        if container.realtime.publisher is None:  # no Redis: the feed emits in this process
            self._own_publisher = LoopPublisher(self._emit, asyncio.get_running_loop())
            container.realtime.attach(self._own_publisher)

    async def stop(self) -> None:
        await self.saves.flush()
        if self._own_publisher is not None and self.container is not None:
            self.container.realtime.attach(None)
        for task in list(self._tasks):
            task.cancel()
        await self.usage.close()

    async def _emit(self, event: str, data: dict[str, Any], room: str) -> None:
        await self.sio.emit(event, data, room=room)

    async def models_in_use(self) -> list[str]:
        return await self.usage.models()

    def state_sizes(self) -> dict[str, int]:
        """Entries kept per socket, here and in the libraries: all 0 once every socket is gone."""
        rooms = self.gate.rooms.get(NAMESPACE, {})
        return {
            "connections": self.connections, "engineio_sockets": len(self.sio.eio.sockets),
            "environ": len(self.sio.environ), "sids": len(rooms.get(None, {})),
            "rooms": sum(1 for name in rooms if name is not None),
            "room_members": sum(len(m) for name, m in rooms.items() if name is not None),
            "binary_packets": len(self.sio._binary_packet), "callbacks": len(self.gate.callbacks),
            "members": len(self.members), "binding": len(self._binding),
            "feeds": len(self.gate.feeds), "usage": self.usage.size(), "tasks": len(self._tasks),
            "document_queues": len(self._ordering), "pending_saves": self.saves.size()}

    def _register(self) -> None:
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        for handler in (self.user_join, self.heartbeat, self.usage_event, self.join_channels,
                        self.join_note, self.channel_event, self.ydoc_join, self.ydoc_state,
                        self.ydoc_update, self.ydoc_leave, self.ydoc_awareness):
            self.sio.on(handler.event, handler)  # type: ignore[attr-defined]

    # -- who is connected -------------------------------------------------------------------
    async def _authenticate(self, token: Any) -> Principal | None:
        if not isinstance(token, str) or not token or len(token) > 4096:
            return None
        try:
            principal = await asyncio.to_thread(self.container.auth.authenticate, token)
        except ApplicationError:
            return None
        return principal if principal.role in VERIFIED else None

    async def _bind(self, sid: str, principal: Principal, position: int | None) -> Member:
        """Join the user's room; with a position, replay what the socket missed first."""
        async with self._binding.setdefault(sid, asyncio.Lock()):
            return await self._bind_once(sid, principal, position)

    async def _bind_once(self, sid: str, principal: Principal, position: int | None) -> Member:
        member = self.members.get(sid)
        if member is not None and member.principal.id == principal.id:
            return member
        if member is not None:
            await self._unbind(sid)
        member = Member(principal, await self._name(principal.id))
        if not self.gate.is_connected(sid, "/"):  # it left while we looked the name up
            self._binding.pop(sid, None)
            return member
        self.members[sid] = member
        self.gate.subscribe(sid, position)  # before entering the room: nothing live is missed
        await self._enter(sid, user_room(principal.id))
        if position is not None:
            self._spawn(self._resume(sid, principal.id, position))
        return member

    async def _enter(self, sid: str, room: str) -> bool:
        """Enter unless the socket left meanwhile (a handler may finish after the disconnect):
        python-socketio would leave an empty room behind and raise KeyError."""
        if not self.gate.is_connected(sid, NAMESPACE):
            return False
        await self.sio.enter_room(sid, room)
        return True

    async def _name(self, user_id: str) -> str:
        """For relays (typing shows who); a read-model hiccup must not keep a socket unbound."""
        try:
            row = await asyncio.to_thread(self.container.user_queries.get, user_id)
        except Exception:
            log.warning("user name lookup failed", exc_info=True)
            return ""
        return str((row or {}).get("name") or "")

    async def _unbind(self, sid: str) -> None:
        member = self.members.pop(sid, None)
        self.gate.unsubscribe(sid)
        if member is not None:
            await self.sio.leave_room(sid, user_room(member.principal.id))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resume(self, sid: str, user_id: str, after: int) -> None:
        try:
            head = await asyncio.to_thread(self.container.store.head)
            if after > head or head - after > MAX_REPLAY:
                await self._resync(sid, head)
                return
            cursor = after
            while self.gate.subscribed(sid):
                page, cursor_next = await asyncio.to_thread(
                    replay_page, self.container.store, self.container.realtime.translator,
                    user_id, cursor)
                for position, payload in page:
                    await self.gate.replayed(sid, position, payload)
                if cursor_next == cursor:
                    break
                cursor = cursor_next
            if not await self.gate.go_live(sid):
                await self._resync(sid, await asyncio.to_thread(self.container.store.head))
        except Exception:
            log.exception("resume failed", extra={"sid": sid})
            await self._resync(sid, await asyncio.to_thread(self.container.store.head))

    async def _resync(self, sid: str, head: int) -> None:
        await self.gate.go_live(sid, skip_to=head)
        await self.gate.send(sid, RESYNC, {"position": head})

    # -- connection events ------------------------------------------------------------------
    async def connect(self, sid: str, environ: Any, auth: Any = None) -> None:
        if not isinstance(auth, dict):
            return  # unauthenticated: connected, receives nothing (Open WebUI's always_connect)
        try:
            position = _position(auth.get("position"))
        except BadPayload as error:
            await self.gate.send(sid, "error", {"message": str(error), "event": "connect"})
            position = None
        try:
            principal = await self._authenticate(auth.get("token"))
            if principal is not None:
                await self._bind(sid, principal, position)
        except Exception:  # the client may retry with user-join; the socket stays
            log.exception("binding a socket on connect failed")

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        self.members.pop(sid, None)
        self._binding.pop(sid, None)
        self.gate.unsubscribe(sid)
        await self.usage.drop(sid)

    @guarded("user-join")
    async def user_join(self, sid: str, data: Any) -> dict[str, str] | None:
        data = _obj(data)
        auth = data.get("auth")
        principal = await self._authenticate(auth.get("token") if isinstance(auth, dict) else None)
        if principal is None:
            return None
        member = await self._bind(sid, principal, _position(data.get("position")))
        await self._enter_channels(sid, principal)
        return {"id": principal.id, "name": member.name}

    @guarded("heartbeat")
    async def heartbeat(self, sid: str, data: Any) -> None:
        member = self.members.get(sid)
        if member is not None:  # last-active lives in Redis or memory, never in the log
            await asyncio.to_thread(self.container.sessions.touch, member.principal.id)

    @guarded("usage")
    async def usage_event(self, sid: str, data: Any) -> None:
        if sid in self.members:
            await self.usage.touch(sid, _text(_obj(data), "model"))

    @guarded("join-channels")
    async def join_channels(self, sid: str, data: Any) -> None:
        auth = _obj(data).get("auth")
        principal = await self._authenticate(auth.get("token") if isinstance(auth, dict) else None)
        if principal is not None:
            await self._enter_channels(sid, principal)

    async def _enter_channels(self, sid: str, principal: Principal) -> None:
        assert self.access is not None
        for channel_id in await asyncio.to_thread(self.access.channel_ids, principal):
            await self._enter(sid, f"channel:{channel_id}")

    @guarded("join-note")
    async def join_note(self, sid: str, data: Any) -> None:
        data = _obj(data)
        note_id = _text(data, "note_id")
        auth = data.get("auth")
        principal = await self._authenticate(auth.get("token") if isinstance(auth, dict) else None)
        assert self.access is not None
        if principal is None or not await asyncio.to_thread(self.access.can_open_note,
                                                            principal, note_id):
            raise BadPayload("no access to this note")
        await self._enter(sid, f"note:{note_id}")

    async def _recheck_note(self, note_id: str, position: int) -> None:
        """The note's grants changed (or it is gone): sockets whose user may no longer read it
        leave its rooms, as in Open WebUI."""
        rooms = (f"note:{note_id}", f"doc_note:{note_id}")
        sids = {sid for room in rooms for sid, _ in self.gate.get_participants(NAMESPACE, room)}
        if not sids or self.access is None:
            return
        for sid in sids:
            member = self.members.get(sid)
            if member is not None and await asyncio.to_thread(
                    self.access.can_open_note, member.principal, note_id, False, position):
                continue
            for room in rooms:
                await self.sio.leave_room(sid, room)

    @guarded("events:channel")
    async def channel_event(self, sid: str, data: Any) -> None:
        data = _obj(data)
        channel_id = _text(data, "channel_id")
        event = _obj(data.get("data"), "data")
        kind = _text(event, "type")
        room = f"channel:{channel_id}"
        member = self.members.get(sid)
        if member is None or room not in self.sio.rooms(sid):
            raise BadPayload("not a member of this channel")
        if len(json.dumps(event)) > MAX_RELAY:
            raise BadPayload(f"data is larger than {MAX_RELAY} bytes")
        if kind == "typing":
            message_id = data.get("message_id")
            user = {"id": member.principal.id, "name": member.name, "role": member.principal.role}
            await self.sio.emit("events:channel", {
                "channel_id": channel_id,
                "message_id": message_id if isinstance(message_id, str) else None,
                "data": event, "user": user}, room=room)
        elif kind == "last_read_at":
            await asyncio.to_thread(self.container.channel_directory.mark_read, channel_id,
                                    member.principal.id)

    # -- collaborative documents (Yjs) ------------------------------------------------------
    async def _document(self, sid: str, data: Any, write: bool = False,
                        joined: bool = True) -> tuple[str, Member, dict[str, Any]]:
        data = _obj(data)
        document_id = normalize_document_id(_text(data, "document_id"))
        member = self.members.get(sid)
        if member is None:
            raise BadPayload("not signed in")
        if joined and f"doc_{document_id}" not in self.sio.rooms(sid):
            raise BadPayload("join the document first")
        if (write or not joined) and not await self._may_open(member, document_id, write):
            raise BadPayload("no access to this document")
        return document_id, member, data

    async def _may_open(self, member: Member, document_id: str, write: bool) -> bool:
        assert self.access is not None
        return await asyncio.to_thread(self.access.can_open_document, member.principal,
                                       document_id, write)

    async def _send_state(self, sid: str, document_id: str, joining: bool = False) -> None:
        state = await asyncio.to_thread(self.container.ydocs.state, document_id)
        sessions = [s for s, _ in self.gate.get_participants("/", f"doc_{document_id}")]
        payload: dict[str, Any] = {"document_id": document_id, "state": list(state),
                                   "sessions": sessions}
        note_id = note_id_of(document_id)
        if joining and note_id is not None:  # the editor seeds an empty document from it
            payload["content"] = await asyncio.to_thread(self.container.notes.content, note_id)
        await self.gate.send(sid, "ydoc:document:state", payload)

    @guarded("ydoc:document:join")
    async def ydoc_join(self, sid: str, data: Any) -> None:
        document_id, member, data = await self._document(sid, data, joined=False)
        room = f"doc_{document_id}"
        if not await self._enter(sid, room):
            return
        await self._send_state(sid, document_id, joining=True)
        await self.sio.emit("ydoc:user:joined", {
            "document_id": document_id, "user_id": member.principal.id,
            "user_name": member.name,
            "user_color": data.get("user_color") if isinstance(data.get("user_color"), str)
            else "#000000"}, room=room, skip_sid=sid)

    @guarded("ydoc:document:state")
    async def ydoc_state(self, sid: str, data: Any) -> None:
        document_id, _, _ = await self._document(sid, data)
        await self._send_state(sid, document_id)

    @guarded("ydoc:document:update")
    async def ydoc_update(self, sid: str, data: Any) -> list[int] | None:
        """An edit, a content snapshot (`data`, saved as the note's content), or both.

        With `initialize` (the first editor seeds an empty document from the note's content)
        the answer is the document's state: the stored one if another editor seeded it first."""
        # One at a time per document, in arrival order: the last snapshot offered is the
        # editor's latest (handlers run concurrently and would finish in any order).
        async with self._in_order(normalize_document_id(_text(_obj(data), "document_id"))):
            return await self._update(sid, data)

    async def _update(self, sid: str, data: Any) -> list[int] | None:
        document_id, member, data = await self._document(sid, data, write=True)
        snapshot = data.get("data") if isinstance(data.get("data"), dict) else None
        if data.get("initialize") and \
                await asyncio.to_thread(self.container.ydocs.exists, document_id):
            return list(await asyncio.to_thread(self.container.ydocs.state, document_id))
        if "update" in data or snapshot is None:
            await self._apply_update(sid, document_id, member, data)
        if snapshot is not None:
            await self.document_saved(document_id, snapshot, member.principal)
        return list(data["update"]) if data.get("initialize") and "update" in data else None

    @contextlib.asynccontextmanager
    async def _in_order(self, document_id: str) -> AsyncIterator[None]:
        entry = self._ordering.setdefault(document_id, (asyncio.Lock(), [0]))
        entry[1][0] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1][0] -= 1
            if not entry[1][0]:
                del self._ordering[document_id]

    async def _apply_update(self, sid: str, document_id: str, member: Member,
                            data: dict[str, Any]) -> None:
        update = _binary(data.get("update"), MAX_UPDATE, "update")
        try:
            check_update(update)
        except ValueError:
            raise BadPayload("update is not a Yjs update") from None
        # Stored before it is broadcast: whoever joins after seeing it gets it in the state.
        await asyncio.to_thread(self.container.ydocs.append, document_id, update)
        await self.sio.emit("ydoc:document:update", {
            "document_id": document_id, "user_id": member.principal.id,
            "update": data["update"], "socket_id": sid}, room=f"doc_{document_id}", skip_sid=sid)

    async def document_saved(self, document_id: str, content: dict[str, Any],
                             principal: Principal) -> None:
        """The editor's content snapshot: saved as the note's `data` once its editors pause."""
        if json_depth(content, MAX_DEPTH) > MAX_DEPTH:
            raise BadPayload(f"data must nest at most {MAX_DEPTH} levels deep")
        if note_id_of(document_id) is not None:
            self.saves.offer(document_id, content, principal)

    async def _save_note(self, document_id: str, content: dict[str, Any],
                         principal: Principal) -> None:
        note_id = note_id_of(document_id)
        try:
            await asyncio.to_thread(self.container.notes.save_content, principal, str(note_id),
                                    content)
        except ApplicationError as error:  # deleted meanwhile, or the editor lost write access
            log.info("a note's content was not saved", extra={"document_id": document_id,
                                                               "reason": error.detail})

    @guarded("ydoc:document:leave")
    async def ydoc_leave(self, sid: str, data: Any) -> None:
        document_id, member, _ = await self._document(sid, data)
        room = f"doc_{document_id}"
        await self.sio.leave_room(sid, room)
        await self.sio.emit("ydoc:user:left", {"document_id": document_id,
                                               "user_id": member.principal.id}, room=room)

    @guarded("ydoc:awareness:update")
    async def ydoc_awareness(self, sid: str, data: Any) -> None:
        document_id, member, data = await self._document(sid, data)
        _binary(data.get("update"), MAX_AWARENESS, "update")
        await self.sio.emit("ydoc:awareness:update", {
            "document_id": document_id, "user_id": member.principal.id,
            "update": data["update"]}, room=f"doc_{document_id}", skip_sid=sid)
