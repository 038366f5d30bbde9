"""Shared fixtures: every storage-touching suite runs on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings

PG_ADMIN_URL = os.environ.get("CHRONICLE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CHRONICLE_TEST_REDIS", "redis://127.0.0.1:6379/15")

os.environ.setdefault("EVENTSOURCING_DISABLE_REDEFINITION_CHECK", "y")

# The suite gates every merge: property tests draw the same examples on every run, so a failure
# reproduces and a pass means the same thing twice. HYPOTHESIS_PROFILE=explore draws new ones.
hypothesis_settings.register_profile("gate", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))


def create_pg_database() -> str:
    name = f"chronicle_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backend_env(backend: str, tmp: Path) -> dict[str, str]:
    env = {"DATA_DIR": str(tmp), "WEBUI_SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
           "LOG_LEVEL": "WARNING", "ENABLE_SIGNUP": "true"}
    if backend == "postgres":
        env["DATABASE_URL"] = create_pg_database()
        env["REDIS_URL"] = REDIS_URL
        env["REDIS_KEY_PREFIX"] = f"chronicle-test-{uuid.uuid4().hex[:8]}"  # runs may share Redis
    return env


def drop_redis_keys(env: dict[str, str]) -> None:
    """Forget what one installation kept in the shared Redis: its prefix, and the keys named
    after its database (Socket.IO channel, usage pool, job queue)."""
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    patterns = [f"{env['REDIS_KEY_PREFIX']}*", f"*{env['DATABASE_URL'].rsplit('/', 1)[1]}*"]
    for pattern in patterns:
        for key in client.scan_iter(match=pattern, count=500):
            client.delete(key)
    client.close()


def drop_installation(env: dict[str, str]) -> None:
    """Remove what backend_env() created outside DATA_DIR."""
    if "DATABASE_URL" in env:
        drop_pg_database(env["DATABASE_URL"])
        drop_redis_keys(env)


@dataclass
class Installation:
    """One in-process installation: its settings, its container and a client of its app."""

    backend: str
    env: dict[str, str]
    container: Any
    client: Any


@contextmanager
def installed_env(backend: str, tmp: Path, **overrides: str) -> Iterator[dict[str, str]]:
    env = {**backend_env(backend, tmp), **overrides}
    try:
        yield env
    finally:
        drop_installation(env)


@contextmanager
def built(env: dict[str, str], run_projectors: bool | None = None, **ports: Any) -> Iterator[Any]:
    """The container of `env` through the one composition root; closed on exit."""
    from interfaces.composition.bootstrap import bootstrap

    container = bootstrap(make_settings(env), run_projectors, **ports)
    try:
        _projectors_started(container)
        yield container
    finally:
        container.close()


def _projectors_started(container: Any, timeout: float = 60.0) -> None:
    """Until this process's projectors have made their tables (a loaded machine takes seconds):
    a test's first read must not meet a read model that does not exist yet."""
    deadline = time.monotonic() + timeout
    for runner in list(container.host.runners.values()):
        while runner.status.status not in ("running", "failed", "standby"):
            assert time.monotonic() < deadline, f"projector {runner.name} did not start"
            time.sleep(0.02)


@contextmanager
def served(container: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    with TestClient(create_app(container=container)) as test_client:
        yield test_client


@contextmanager
def installed(backend: str, tmp: Path, **overrides: str) -> Iterator[Installation]:
    """Settings, container, app and client of one backend, torn down in reverse on exit."""
    with installed_env(backend, tmp, **overrides) as env, built(env) as container, \
            served(container) as test_client:
        yield Installation(backend, env, container, test_client)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_env(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with installed_env(backend, tmp_path) as env:
        yield env


def make_settings(env: dict[str, str], **overrides: str):  # type: ignore[no-untyped-def]
    from infrastructure.settings import Settings

    return Settings(**{**env, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def container(settings_env: dict[str, str]):  # type: ignore[no-untyped-def]
    with built(settings_env) as c:
        yield c


@pytest.fixture
def client(container):  # type: ignore[no-untyped-def]
    with served(container) as test_client:
        yield test_client


@pytest.fixture
def people(client):  # type: ignore[no-untyped-def]
    from tests.helpers import cast

    return cast(client)
