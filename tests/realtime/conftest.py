"""Realtime fixtures: real uvicorn workers, a `chronicle projector`, PostgreSQL + Redis or SQLite."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REDIS_URL, create_pg_database, drop_pg_database, make_settings
from tests.realtime.processes import Person, Proc, Sock, api, projector, server_env, sign_up


@dataclass
class Deployment:
    env: dict[str, str]
    container: Any  # the test's own writer: commits land in the same log the servers follow
    apis: list[Proc]
    others: list[Proc] = field(default_factory=list)
    admin: Person | None = None  # the first sign-up
    socks: list[Sock] = field(default_factory=list)

    def sock(self, api: Proc, auth: dict[str, Any] | None = None) -> Sock:
        sock = Sock(api.url, auth).connect()
        self.socks.append(sock)
        return sock

    def person(self, name: str) -> Person:
        return sign_up(self.apis[0].url, name)

    def stop(self) -> None:
        for sock in self.socks:
            sock.close()
        for proc in [*self.apis, *self.others]:
            proc.stop()
        self.container.close()


def _base_env(tmp: Path) -> dict[str, str]:
    return {"DATA_DIR": str(tmp / "data"), "WEBUI_SECRET_KEY": "realtime-test-secret-0123456789abcdef",
            "LOG_LEVEL": "WARNING", "ENABLE_SIGNUP": "true"}


def _writer(env: dict[str, str]) -> Any:
    from interfaces.composition.bootstrap import bootstrap

    # Bootstrapping here first creates every table, so the servers never race to create them.
    return bootstrap(make_settings(env), run_projectors=False)


def wait_feed_started(container: Any, timeout: float = 90.0) -> None:
    """The feed begins at the head on its first start: write only once it runs. Note rooms
    open as the notes read model says: wait for its tables too. A loaded two-core machine
    takes a while to start three server processes."""
    from projections.runtime import read_state

    deadline = time.monotonic() + timeout
    for name in ("realtime", "notes"):
        while read_state(container.read_db, name) is None:
            assert time.monotonic() < deadline, f"the {name} projection did not start"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two API processes on two ports and a projector process, sharing PostgreSQL and Redis."""
    tmp = tmp_path_factory.mktemp("cluster")
    env = {**_base_env(tmp), "DATABASE_URL": create_pg_database(), "REDIS_URL": REDIS_URL,
           "CHRONICLE_PROJECTORS": "external"}
    container = _writer(env)
    with container.read_db.transaction() as tx:  # what the channels read model will provide
        tx.execute("CREATE TABLE channel_members (channel_id TEXT, user_id TEXT)")
    full = server_env(env)
    apis = [api("api-a", full, tmp), api("api-b", full, tmp)]
    deployment = Deployment(env, container, apis, [projector(full, tmp)])
    try:
        # One at a time: the event store's startup DDL (CREATE OR REPLACE FUNCTION) fails with
        # "tuple concurrently updated" when processes bootstrap together.
        for proc in apis:
            proc.start().wait_healthy()
        deployment.others[0].start()
        wait_feed_started(container)
        deployment.admin = deployment.person("Admin")
        yield deployment
    finally:
        deployment.stop()
        drop_pg_database(env["DATABASE_URL"])


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The embedded default: one server process, SQLite, projectors and Socket.IO in-process."""
    tmp = tmp_path_factory.mktemp("embedded")
    env = _base_env(tmp)
    container = _writer(env)
    server = api("api", server_env(env, CHRONICLE_PROJECTORS="embedded"), tmp)
    deployment = Deployment(env, container, [server])
    try:
        server.start()
        server.wait_healthy()
        wait_feed_started(container)
        deployment.admin = deployment.person("Admin")
        yield deployment
    finally:
        deployment.stop()
