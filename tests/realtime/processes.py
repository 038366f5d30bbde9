"""Real processes for realtime tests and the benchmark: uvicorn API workers, `chronicle projector`,
and python-socketio clients that record what they receive."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PATH = "/ws/socket.io"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen and self.popen.poll() is None, self.tail()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not become healthy\n{self.tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def server_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(base)
    # Small pools: a deployment is four processes on a PostgreSQL shared with other test runs.
    env.update({"PYTHONPATH": str(ROOT), "LOG_FORMAT": "console", "DEFAULT_USER_ROLE": "user",
                "EVENTSOURCING_DISABLE_REDEFINITION_CHECK": "y", "PG_POOL_SIZE": "2",
                "PG_POOL_MAX": "6"})
    env.update(extra)
    return env


def api(name: str, env: dict[str, str], logs: Path, workers: int = 1) -> Proc:
    port = free_port()
    argv = [str(BIN / "uvicorn"), "interfaces.asgi:app", "--host", "127.0.0.1", "--port",
            str(port), "--workers", str(workers), "--log-level", "warning"]
    return Proc(name, argv, env, logs / f"{name}.log", port=port)


def projector(env: dict[str, str], logs: Path, names: tuple[str, ...] = ()) -> Proc:
    """`chronicle projector [names]` (default: every projector and feed)."""
    label = "projector-" + "-".join(names) if names else "projector"
    return Proc(label, [str(BIN / "chronicle"), "projector", *names], env, logs / f"{label}.log")


@dataclass
class Person:
    id: str
    token: str
    name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(base_url: str, name: str) -> Person:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    r = httpx.post(base_url + "/api/v1/auths/signup", timeout=30,
                   json={"name": name, "email": email, "password": "correct horse"})
    assert r.status_code == 200, r.text
    body = r.json()
    return Person(body["id"], body["token"], name)


@dataclass
class Sock:
    """A python-socketio client that records every server event it gets."""

    base_url: str
    auth: dict[str, Any] | None = None
    received: list[tuple[str, Any]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.on("disconnect", lambda *_: self.disconnected.set())

    def _record(self, event: str, data: Any = None) -> None:
        with self._cond:
            self.received.append((event, data))
            self._cond.notify_all()

    def connect(self, sync: bool = True) -> Sock:
        self.client.connect(self.base_url, socketio_path=PATH, transports=["websocket"],
                            auth=self.auth, wait_timeout=10)
        token = (self.auth or {}).get("token")
        if sync and isinstance(token, str):
            # Answered once the connect handler has bound the socket: no live event is missed.
            self.call("user-join", {"auth": {"token": token}})
        return self

    def emit(self, event: str, data: Any = None) -> None:
        self.client.emit(event, data)

    def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return self.client.call(event, data, timeout=timeout)

    def of(self, event: str) -> list[Any]:
        with self._cond:
            return [d for e, d in self.received if e == event]

    def wait(self, predicate: Callable[[Sock], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"timed out; received {self.received[-5:]}"
                self._cond.wait(remaining)

    def wait_count(self, event: str, count: int, timeout: float = 10.0) -> list[Any]:
        self.wait(lambda s: len(s.of(event)) >= count, timeout)
        return self.of(event)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()


def chat_events(sock: Sock, chat_id: str | None = None) -> list[dict[str, Any]]:
    return [d for d in sock.of("events") if chat_id is None or d["chat_id"] == chat_id]


def positions(sock: Sock) -> list[int]:
    return [d["position"] for d in sock.of("events")]
