"""What one client may send: a token bucket per websocket connection, judged on raw frames.

The guard sits between uvicorn and engine.io (it wraps the ASGI `receive` of each websocket
connection), so a frame over the limit is dropped before anything parses it: no engine.io decode,
no Socket.IO JSON, no handler task. The bucket lives and dies with the connection's ASGI call, so
nothing per socket outlives it. The Socket.IO rules about binary packets are mirrored here
(a header announces N attachments, the next N messages are those attachments) so that dropping a
header drops its attachments too and never leaves the parser expecting them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from infrastructure.metrics import SOCKET_DISCONNECTS, SOCKET_FRAMES_DROPPED
from interfaces.realtime.faults import client_fault

MAX_FRAME = 8 * 1024 * 1024  # one incoming frame; larger ones close the connection (1009)
COST_UNIT = 64 * 1024  # a frame costs one token, plus one per further started 64 KiB
ENGINEIO_KINDS = frozenset("0123456b")  # engine.io packet types; "b": base64 binary message
MESSAGE = "4"  # an engine.io message: carries a Socket.IO packet
BINARY_PACKETS = frozenset("56")  # Socket.IO BINARY_EVENT, BINARY_ACK
POLICY_VIOLATION, TOO_BIG = 1008, 1009

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Verdict(Enum):
    PASS = "pass"
    DROP = "drop"
    CLOSE = "close"


@dataclass(frozen=True)
class Limits:
    rate: float  # tokens a second; 0 turns the limit off
    burst: int  # tokens a quiet socket has saved up
    flood: int  # dropped tokens (draining at `rate`) past which the socket is closed


class TokenBucket:
    """`rate` tokens a second up to `burst`. A frame that finds too few tokens is dropped and its
    cost piles up as `excess`, which drains at `rate` as well: a socket that sends more than twice
    the rate for a while, or `burst + flood` frames at once, piles up past `flood`."""

    __slots__ = ("limits", "tokens", "excess", "stamp")

    def __init__(self, limits: Limits, now: float):
        self.limits = limits
        self.tokens = float(limits.burst)
        self.excess = 0.0
        self.stamp = now

    def take(self, cost: int, now: float, force: bool = False) -> Verdict:
        """`force`: the frame must pass (an attachment of an accepted packet); it still pays."""
        gained = (now - self.stamp) * self.limits.rate
        self.stamp = now
        self.tokens = min(float(self.limits.burst), self.tokens + gained)
        self.excess = max(0.0, self.excess - gained)
        cost = min(cost, self.limits.burst)  # else a frame larger than the burst could never pass
        if force or self.tokens >= cost:
            self.tokens -= cost
            return Verdict.PASS
        self.excess += cost
        return Verdict.CLOSE if self.excess > self.limits.flood else Verdict.DROP


def frame_cost(size: int) -> int:
    return 1 + size // COST_UNIT


def announced_attachments(text: str) -> int:
    """The attachment count of a `45N-…` / `46N-…` header, read as python-socketio reads it."""
    if text[1:2] not in BINARY_PACKETS:
        return 0
    rest = text[2:]
    dash = rest.find("-")
    if 0 < dash <= 10 and rest[:dash].isdigit():
        return int(rest[:dash])
    return 0


def _well_formed(text: str) -> bool:
    """A known engine.io type; a message must carry a Socket.IO packet (it starts with its type
    digit). Anything else engine.io would JSON-parse, or fail on at ERROR level."""
    if text[:1] not in ENGINEIO_KINDS:
        return False
    return text[:1] != MESSAGE or text[1:2].isdigit()


class FrameGuard:
    """Judges each incoming frame of one websocket connection before engine.io reads it."""

    def __init__(self, limits: Limits, receive: Receive, send: Send, client: Any = None):
        self._receive = receive
        self._send = send
        self.client = f"{client[0]}:{client[1]}" if isinstance(client, list | tuple) else ""
        self.bucket = TokenBucket(limits, time.monotonic()) if limits.rate > 0 else None
        self.owed = 0  # messages still to come as attachments of an accepted binary packet
        self.skip = 0  # messages still to come as attachments of a dropped one

    async def receive(self) -> Message:
        while True:
            message = await self._receive()
            if message.get("type") != "websocket.receive":
                return message
            verdict, code = self.judge(message)
            if verdict is Verdict.PASS:
                return message
            if verdict is Verdict.CLOSE:
                return await self._close(code)

    def judge(self, message: Message) -> tuple[Verdict, int]:
        text, data = message.get("text"), message.get("bytes")
        frame = text if text is not None else data
        if frame is None:
            return Verdict.PASS, 0  # engine.io takes it for a closed connection
        if len(frame) > MAX_FRAME:
            return Verdict.CLOSE, TOO_BIG
        if text is not None and not _well_formed(text):
            return self._malformed(len(text), "not an engine.io packet carrying a Socket.IO "
                                   "packet"), POLICY_VIOLATION
        if text is not None and text[:1] != MESSAGE and text[:1] != "b":
            return self._spend(len(text), force=True), 0  # pong, close, upgrade, noop
        return self._message(frame), POLICY_VIOLATION

    def _message(self, frame: str | bytes) -> Verdict:
        if self.owed:
            self.owed -= 1
            return self._spend(len(frame), force=True)
        if self.skip:
            self.skip -= 1
            SOCKET_FRAMES_DROPPED.inc()
            return Verdict.DROP
        if not isinstance(frame, str) or frame[:1] != MESSAGE:
            return self._malformed(len(frame), "binary message without a binary packet")
        verdict = self._spend(len(frame))
        if verdict is Verdict.PASS:
            self.owed = announced_attachments(frame)
        else:
            self.skip = announced_attachments(frame)
        return verdict

    def _malformed(self, size: int, reason: str) -> Verdict:
        """Dropped either way; garbage pays like any frame, so a flood of it is closed too."""
        verdict = self._spend(size)
        if verdict is Verdict.PASS:  # beyond the limit it is not even worth a log line
            client_fault(reason, client=self.client)
        return Verdict.CLOSE if verdict is Verdict.CLOSE else Verdict.DROP

    def _spend(self, size: int, force: bool = False) -> Verdict:
        if self.bucket is None:
            return Verdict.PASS
        verdict = self.bucket.take(frame_cost(size), time.monotonic(), force)
        if verdict is not Verdict.PASS:
            SOCKET_FRAMES_DROPPED.inc()
        return verdict

    async def _close(self, code: int) -> Message:
        """Close the websocket, and tell engine.io the client left: its cleanup runs as usual."""
        reason = "oversized frame" if code == TOO_BIG else "flooding"
        SOCKET_DISCONNECTS.labels(reason).inc()
        client_fault(f"socket closed: {reason}", client=self.client)
        with contextlib.suppress(Exception):  # already closed by the other side
            await self._send({"type": "websocket.close", "code": code})
        return {"type": "websocket.disconnect", "code": code}
