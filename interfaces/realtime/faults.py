"""Client mistakes are warnings, throttled; server faults stay errors.

Any client can send malformed frames, so nothing a client sends may produce an ERROR record or an
unbounded number of records. Three sources are covered:

* our own reports (`client_fault`): WARNING, counted in `chronicle_socketio_bad_frames_total`;
* python-socketio / python-engineio's loggers: given to the server as `chronicle.socketio` and
  `chronicle.engineio` at WARNING (their INFO lines are per packet), with engine.io's
  "bad request" errors (a client's wrong origin, sid, transport or protocol) demoted to WARNING;
* malformed Socket.IO packets: `CheckedServer` decodes them itself, so they never reach the
  library's "message async handler error" (ERROR with a traceback).

Every record of these loggers goes through `Throttle`: at most LIMIT records per message template
per WINDOW seconds; the first record after a window reports how many were suppressed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import socketio
from socketio import packet

from infrastructure.metrics import SOCKET_BAD_FRAMES

LIMIT = 10
WINDOW = 60.0
ONCE_MARK = "further occurrences of this error"  # engine.io's _log_error_once: bad requests

client_log = logging.getLogger("chronicle.realtime.client")
socketio_log = logging.getLogger("chronicle.socketio")
engineio_log = logging.getLogger("chronicle.engineio")


class Throttle(logging.Filter):
    """Per message template (a fixed set: never client data), at most LIMIT records a window."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW):
        super().__init__()
        self.limit, self.window = limit, window
        self._windows: dict[tuple[str, str], list[float]] = {}  # key -> [start, seen]
        self._lock = threading.Lock()  # the engine.io loggers are also used from threads

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and ONCE_MARK in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            entry = self._windows.setdefault(key, [now, 0])
            if now - entry[0] >= self.window:
                suppressed = int(entry[1]) - self.limit
                entry[0], entry[1] = now, 0
                if suppressed > 0:
                    record.suppressed = suppressed
            entry[1] += 1
            return entry[1] <= self.limit


def _quiet(logger: logging.Logger) -> logging.Logger:
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, Throttle) for f in logger.filters):
        logger.addFilter(Throttle())
    return logger


def library_loggers() -> dict[str, logging.Logger]:
    """`logger` / `engineio_logger` for socketio.AsyncServer (a Logger object: the library then
    adds no handler of its own, and records reach the structured root handler once)."""
    return {"logger": _quiet(socketio_log), "engineio_logger": _quiet(engineio_log)}


_quiet(client_log)


def client_fault(reason: str, **extra: Any) -> None:
    """A client sent something malformed. `reason` must be a fixed text: it is the throttle key."""
    SOCKET_BAD_FRAMES.inc()
    client_log.warning(reason, extra=extra)


class ClientFault(ValueError):
    pass


BINARY = (packet.BINARY_EVENT, packet.BINARY_ACK)
FROM_CLIENTS = (packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK, *BINARY)


def _check(pkt: Any) -> None:
    """The shape python-socketio's dispatch assumes (it indexes `data[0]` unchecked)."""
    kind, data = pkt.packet_type, pkt.data
    if kind not in FROM_CLIENTS:
        raise ClientFault("unexpected Socket.IO packet type")
    if kind in (packet.EVENT, packet.BINARY_EVENT) and not (
            isinstance(data, list) and data and isinstance(data[0], str)):
        raise ClientFault("an event must be a list starting with its name")
    if kind in (packet.ACK, packet.BINARY_ACK) and (pkt.id is None or not isinstance(data, list)):
        raise ClientFault("an ack must carry an id and a list")
    if kind == packet.CONNECT and data is not None and not isinstance(data, dict):
        raise ClientFault("connect data must be an object")


class CheckedServer(socketio.AsyncServer):
    """python-socketio's AsyncServer, with its message dispatch (`_handle_eio_message`, python-
    socketio 5.x) redone so that a malformed packet is a throttled warning, not an ERROR with a
    traceback, and a binary packet's pending attachments never outlive a bad attachment."""

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            pkt = self._complete_packet(eio_sid, data)
        except ClientFault as fault:
            self._binary_packet.pop(eio_sid, None)
            client_fault(str(fault), eio_sid=eio_sid)
            return
        if pkt is not None:
            await self._dispatch(eio_sid, pkt)

    def _complete_packet(self, eio_sid: str, data: Any) -> Any:
        """The decoded packet; None while a binary packet waits for its attachments."""
        pending = self._binary_packet.get(eio_sid)
        try:
            if pending is not None:
                if not pending.add_attachment(data):
                    return None
                del self._binary_packet[eio_sid]
                pkt = pending
            else:
                pkt = self.packet_class(encoded_packet=data)
        except Exception:  # decoding is pure parsing: whatever fails is the client's input
            raise ClientFault("malformed Socket.IO packet") from None
        if pending is None and pkt.packet_type in BINARY:
            return self._await_attachments(eio_sid, pkt)
        _check(pkt)
        return pkt

    def _await_attachments(self, eio_sid: str, pkt: Any) -> None:
        if not pkt.attachment_count:
            raise ClientFault("a binary packet without attachments")
        if not self.manager.sid_from_eio_sid(eio_sid, pkt.namespace or "/"):
            raise ClientFault("a binary packet for a namespace the socket is not in")
        self._binary_packet[eio_sid] = pkt

    async def _dispatch(self, eio_sid: str, pkt: Any) -> None:
        kind, namespace = pkt.packet_type, pkt.namespace
        if kind == packet.CONNECT:
            await self._handle_connect(eio_sid, namespace, pkt.data)
        elif kind == packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, namespace, self.reason.CLIENT_DISCONNECT)
        elif self.manager.sid_from_eio_sid(eio_sid, namespace or "/") is None:
            client_fault("a packet for a namespace the socket is not in", eio_sid=eio_sid)
        elif kind in (packet.EVENT, packet.BINARY_EVENT):
            await self._handle_event(eio_sid, namespace, pkt.id, pkt.data)
        else:
            await self._handle_ack(eio_sid, namespace, pkt.id, pkt.data)
