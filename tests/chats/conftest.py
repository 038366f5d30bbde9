"""Chats suites share one server per backend and module: setting one up (and signing the cast
up) costs seconds, so tests isolate themselves with their own users and chats instead."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import REDIS_URL, backend_env, drop_pg_database, make_settings
from tests.helpers import Caller, Cast, cast, set_role, signup


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def container(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from interfaces.composition.bootstrap import bootstrap

    env = backend_env(backend, Path(tmp_path_factory.mktemp(f"chats-{backend}")))
    if backend == "postgres":
        redis.Redis.from_url(REDIS_URL).flushdb()
    built = bootstrap(make_settings(env))
    yield built
    built.close()
    if "DATABASE_URL" in env:
        drop_pg_database(env["DATABASE_URL"])


@pytest.fixture(scope="module")
def client(container: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    with TestClient(create_app(container=container)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def people(client: Any) -> Cast:
    return cast(client)


@pytest.fixture
def fresh(client: Any, people: Cast) -> Any:
    """A factory of new verified users: tests that count a user's chats start from none."""

    def make(name: str = "Fresh") -> Caller:
        return set_role(client, people.admin, signup(client, name, f"{uuid.uuid4().hex}@x.org"),
                        "user")

    return make
