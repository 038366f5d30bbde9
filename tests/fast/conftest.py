"""Fixtures of the fast tier: a fresh in-memory installation per test, and its first users."""

from __future__ import annotations

from typing import Any

import pytest

from application.auth import Principal
from tests.fast.fakes import Services, services


@pytest.fixture
def app() -> Services:
    return services()


def principal(session: Any) -> Principal:
    return Principal(id=str(session.user.id), role=session.user.role, via="session")


@pytest.fixture
def admin(app: Services) -> Principal:
    """The first sign-up: the admin."""
    session, _ = app.auth.signup("Ada", "ada@x.org", "secret-1", None)
    return principal(session)


@pytest.fixture
def user(app: Services, admin: Principal) -> Principal:
    """A verified user (signed up pending, then made a user by the admin)."""
    session, _ = app.auth.signup("Bob", "bob@x.org", "secret-2", None)
    app.users.admin_update(admin, str(session.user.id), "user", None, None, None, None)
    return Principal(id=str(session.user.id), role="user", via="session")


@pytest.fixture
def other(app: Services, admin: Principal) -> Principal:
    session, _ = app.auth.signup("Cy", "cy@x.org", "secret-3", None)
    app.users.admin_update(admin, str(session.user.id), "user", None, None, None, None)
    return Principal(id=str(session.user.id), role="user", via="session")
