"""Chats suites share one server per backend and module: setting one up (and signing the cast
up) costs seconds, so tests isolate themselves with their own users and chats instead."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Installation, installed
from tests.helpers import Caller, Cast, cast, set_role, signup


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def installation(backend: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Installation]:
    with installed(backend, tmp_path_factory.mktemp("chats-" + backend)) as built:
        yield built


@pytest.fixture(scope="module")
def container(installation: Installation) -> Any:
    return installation.container


@pytest.fixture(scope="module")
def client(installation: Installation) -> Any:
    return installation.client


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
