"""Socket.IO beside the FastAPI app: `with_realtime(app, settings)` is what uvicorn serves."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import socketio
from fastapi import FastAPI

from infrastructure.settings import Settings
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


def with_realtime(app: FastAPI, settings: Settings) -> RealtimeApp:
    realtime = Realtime(settings)
    app.state.realtime = realtime
    return RealtimeApp(app, realtime)
