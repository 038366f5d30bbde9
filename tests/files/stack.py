"""The installation the files, knowledge and retrieval suites share (one per backend and module).

SQLite is the embedded shape: jobs run on the in-process pool. PostgreSQL is the production
shape: jobs are Dramatiq messages on a real Redis, consumed either by a real `chronicle worker`
subprocess (worker="process") or by a Dramatiq worker thread in this process (worker="thread").
The broker uses its own Redis database, and each test database its own queue, so suites running
side by side never take each other's jobs.
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REDIS_URL, built, installed_env, served
from tests.helpers import Caller, Cast, cast, set_role, signup

ROOT = Path(__file__).resolve().parents[2]
JOBS_REDIS = REDIS_URL.rsplit("/", 1)[0] + "/12"
CALLERS = ("anonymous", "pending", "user", "other", "admin")


@dataclass
class Stack:
    backend: str
    container: Any
    client: Any
    people: Cast
    tmp: Path
    worker: Any = None
    log: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # -- people ---------------------------------------------------------------------------------
    def fresh(self, name: str = "Fresh", role: str = "user") -> Caller:
        caller = signup(self.client, name, f"{uuid.uuid4().hex}@x.org")
        return set_role(self.client, self.people.admin, caller, role) if role != caller.role \
            else caller

    def headers(self, who: str) -> dict[str, str] | None:
        return self.people.all()[who]

    # -- files ----------------------------------------------------------------------------------
    def upload(self, caller: Caller, name: str, data: bytes | str,
               content_type: str = "text/plain", expect: int = 200, **params: Any) -> Any:
        raw = data.encode() if isinstance(data, str) else data
        files = {"file": (name, io.BytesIO(raw), content_type)}
        form = {}
        if "metadata" in params:
            form["metadata"] = params.pop("metadata")
        r = self.client.post("/api/v1/files/", files=files, data=form, params=params,
                             headers=caller.headers)
        assert r.status_code == expect, r.text
        return r.json()

    def wait_status(self, caller: Caller, file_id: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            r = self.client.get(f"/api/v1/files/{file_id}/process/status", headers=caller.headers)
            assert r.status_code == 200, r.text
            status = r.json()
            if status["status"] in ("completed", "failed"):
                return status
            time.sleep(0.1)
        raise AssertionError(f"file {file_id} still {status} after {timeout} s\n{self.tail()}")

    def processed(self, caller: Caller, name: str, text: str, **params: Any) -> str:
        """Upload a text file and wait until it is searchable; returns its id."""
        file_id = self.upload(caller, name, text, **params)["id"]
        status = self.wait_status(caller, file_id)
        assert status == {"status": "completed"}, status
        return str(file_id)

    def caught_up(self, caller: Caller) -> dict[str, str]:
        return {**caller.headers, "X-Chronicle-Min-Position": str(self.container.store.head())}

    def tail(self, lines: int = 40) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def knowledge_permissions(allowed: bool) -> dict[str, Any]:
    from interfaces.schemas.users import default_user_permissions

    permissions = default_user_permissions()
    permissions["workspace"]["knowledge"] = allowed
    permissions["sharing"]["knowledge"] = allowed
    return permissions


def allow_knowledge(stack: Stack, allowed: bool = True) -> None:
    """Users may create knowledge bases (the reference's workspace.knowledge, off by default)."""
    r = stack.client.post("/api/v1/users/default/permissions",
                          json=knowledge_permissions(allowed), headers=stack.people.admin.headers)
    assert r.status_code == 200, r.text


def _worker_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "CHRONICLE_JOBS": "dramatiq", "PYTHONPATH": str(ROOT)}
    out = log.open("ab")
    return subprocess.Popen([str(Path(sys.executable).parent / "chronicle"), "worker"],
                            env=full, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextmanager
def stack(backend: str, tmp: Path, worker: str = "thread", **overrides: str) -> Iterator[Stack]:
    if backend == "postgres":
        # Small pools: the PostgreSQL server is shared with other suites.
        overrides = {**overrides, "REDIS_URL": JOBS_REDIS, "CHRONICLE_JOBS": "dramatiq",
                     "PG_POOL_SIZE": "1", "PG_POOL_MAX": "6"}
    with installed_env(backend, tmp, **overrides) as env, built(env) as container, \
            _worker(backend, worker, env, container, tmp / "worker.log") as running, \
            served(container) as client:
        # Credentials are sent explicitly: the client must not replay a `token` cookie.
        client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        yield Stack(backend, container, client, cast(client), tmp, running, tmp / "worker.log")


@contextmanager
def _worker(backend: str, worker: str, env: dict[str, str], container: Any, log: Path
            ) -> Iterator[Any]:
    """PostgreSQL's jobs consumer: a `chronicle worker` process or a Dramatiq thread here."""
    if backend != "postgres":
        yield None
    elif worker == "process":
        proc = _worker_process(env, log)
        try:
            yield proc
        finally:
            _stop_process(proc)
    else:
        import dramatiq

        thread_worker = dramatiq.Worker(container.jobs.broker, worker_threads=2, worker_timeout=100)
        thread_worker.start()
        try:
            yield thread_worker
        finally:
            thread_worker.stop(timeout=10_000)
