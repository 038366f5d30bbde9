"""Workspace suites (models, tools, utils) share one server per backend and module: setting
one up (and signing the cast up) costs seconds, so tests isolate themselves with their own
users and ids instead. tests/tools and tests/utils import these fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from interfaces.schemas.users import default_user_permissions
from tests.conftest import Installation, installed
from tests.helpers import Caller, Cast, cast, set_role, signup

CALLERS = ("anonymous", "pending", "user", "other", "admin")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def installation(backend: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Installation]:
    with installed(backend, tmp_path_factory.mktemp("workspace-" + backend)) as built:
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
    """A factory of new verified users, for tests that need a clean slate of their own."""

    def make(name: str = "Fresh") -> Caller:
        return set_role(client, people.admin, signup(client, name, f"{uuid.uuid4().hex}@x.org"),
                        "user")

    return make


@pytest.fixture
def permissions(client: Any, people: Cast) -> Iterator[Any]:
    """Set default user permissions for one test (section -> {key: bool}); reset afterwards."""

    def grant(**sections: dict[str, bool]) -> None:
        body = default_user_permissions()
        for section, values in sections.items():
            body[section].update(values)
        r = client.post("/api/v1/users/default/permissions", json=body,
                        headers=people.admin.headers)
        assert r.status_code == 200, r.text

    yield grant
    grant()


def headers_of(people: Cast, who: str) -> dict[str, str] | None:
    return people.all()[who]


def uid(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
