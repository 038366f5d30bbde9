"""Socket.IO beside the FastAPI app: `with_realtime(app, settings)` is what uvicorn serves."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import socketio
from fastapi import FastAPI
from prometheus_client.core import GaugeMetricFamily

from infrastructure.metrics import REGISTRY
from infrastructure.settings import Settings
from interfaces.realtime.limits import FrameGuard
from interfaces.realtime.server import SOCKETIO_PATH, Realtime

Scope = dict[str, Any]


class RealtimeApp:
    """Routes /ws/socket.io to Socket.IO and the rest to FastAPI (as Open WebUI mounts it).

    The container is built in FastAPI's lifespan, so the socket layer starts right after that
    startup completes and stops before its shutdown closes the container.
    """

    def __init__(self, app: FastAPI, realtime: Realtime):
        self.app = app
        self.realtime = realtime
        self.sockets = socketio.ASGIApp(realtime.sio, other_asgi_app=app,
                                        socketio_path=SOCKETIO_PATH)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "lifespan":
            await self.sockets(scope, receive, send)
            return

        async def receive_first() -> Any:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.realtime.stop()
            return message

        async def send_after(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                await self.realtime.start(self.app.state.container)
            await send(message)

        await self.app(scope, receive_first, send_after)

    async def _websocket(self, scope: Scope, receive: Any, send: Any) -> None:
        """Every frame a client sends passes its connection's FrameGuard first."""
        guard = FrameGuard(self.realtime.limits, receive, send, scope.get("client"))
        self.realtime.connections += 1
        try:
            await self.sockets(scope, guard.receive, send)
        finally:
            self.realtime.connections -= 1


class SocketStateCollector:
    """`chronicle_socketio_state_entries{kind}`: per-socket state this process holds. With no
    socket connected every kind is 0; one that grows with churn is a leak."""

    def __init__(self) -> None:
        self.realtime: Realtime | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("chronicle_socketio_state_entries",
                                   "Per-socket entries held by the Socket.IO layer", labels=["kind"])
        if self.realtime is not None:
            for kind, size in self.realtime.state_sizes().items():
                family.add_metric([kind], size)
        yield family

    def describe(self) -> list[Any]:
        return []


_state = SocketStateCollector()
REGISTRY.register(_state)


def with_realtime(app: FastAPI, settings: Settings) -> RealtimeApp:
    realtime = Realtime(settings)
    app.state.realtime = realtime
    _state.realtime = realtime  # one served app per process: the latest one is reported
    return RealtimeApp(app, realtime)
