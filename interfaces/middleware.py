"""ASGI middleware: correlation ids, access logs, latency metrics and security headers."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import structlog

from application.context import Actor, set_actor
from infrastructure.metrics import REQUEST_LATENCY

log = logging.getLogger("chronicle.http")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class RequestContextMiddleware:
    def __init__(self, app: Any, hsts: bool = False):
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = _incoming_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        set_actor(Actor(user_id=None, correlation_id=correlation_id))
        started = time.perf_counter()
        status_box = [500]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", correlation_id.encode()))
                if scope["path"].startswith("/docs"):
                    headers += [h for h in self.headers if h[0] != b"x-frame-options"]
                else:
                    headers += self.headers
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            path = _route_label(scope)
            REQUEST_LATENCY.labels(scope["method"], path, str(status_box[0])).observe(elapsed)
            log.info("request", extra={"method": scope["method"], "path": path,
                                       "status": status_box[0],
                                       "ms": round(elapsed * 1000, 2)})


def _incoming_id(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")[:64]
            return text if text.replace("-", "").isalnum() else None
    return None


def _route_label(scope: dict[str, Any]) -> str:
    """The matched route's full template (/api/v1/chats/{id}), for a bounded metrics label.

    Included routers only know their own relative template, so the full one is rebuilt from the
    request path by putting the path parameters' names back in place of their values.
    """
    if scope.get("route") is None:
        return "unmatched"
    path = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path
