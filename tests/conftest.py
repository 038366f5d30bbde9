"""Shared fixtures: every storage-touching suite runs on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_env(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = backend_env(backend, tmp_path)
    yield env
    if "DATABASE_URL" in env:
        drop_pg_database(env["DATABASE_URL"])


def make_settings(env: dict[str, str], **overrides: str):  # type: ignore[no-untyped-def]
    from infrastructure.settings import Settings

    return Settings(**{**env, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def container(settings_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from interfaces.composition.bootstrap import bootstrap

    c = bootstrap(make_settings(settings_env))
    yield c
    c.close()


@pytest.fixture
def client(container):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    with TestClient(create_app(container=container)) as test_client:
        yield test_client


@pytest.fixture
def people(client):  # type: ignore[no-untyped-def]
    from tests.helpers import cast

    return cast(client)
