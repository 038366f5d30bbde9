"""Sign-up, sign-in, sessions, roles and settings on the real services (fakes for storage)."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from application.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized
from tests.fast.conftest import principal
from tests.fast.fakes import Services, services

pytestmark = pytest.mark.fast


def test_the_first_sign_up_is_the_admin_and_later_ones_wait(app: Services) -> None:
    first, _ = app.auth.signup("Ada", "ADA@x.org", "pw", None)
    second, _ = app.auth.signup("Bob", "bob@x.org", "pw", None)
    assert (first.user.role, second.user.role) == ("admin", "pending")
    assert first.user.email == "ada@x.org"  # normalised
    assert app.auth.authenticate(first.token).id == str(first.user.id)


def test_an_email_is_taken_once_whatever_its_case(app: Services) -> None:
    app.auth.signup("Ada", "ada@x.org", "pw", None)
    with pytest.raises(BadRequest):
        app.auth.signup("Eve", "Ada@X.org", "pw", None)
    with pytest.raises(BadRequest):
        app.auth.signup("Eve", "not-an-email", "pw", None)


def test_sign_up_closes_when_the_admin_turns_it_off() -> None:
    app = services(ENABLE_SIGNUP=False)
    app.auth.signup("Ada", "ada@x.org", "pw", None)  # onboarding is always open
    with pytest.raises(Forbidden):
        app.auth.signup("Bob", "bob@x.org", "pw", None)


def test_sign_in_checks_the_password_and_limits_attempts(app: Services) -> None:
    app.auth.signup("Ada", "ada@x.org", "right", None)
    session, _ = app.auth.signin("ADA@x.org", "right")
    assert session.user.name == "Ada"
    with pytest.raises(BadRequest):
        app.auth.signin("ada@x.org", "wrong")
    with pytest.raises(BadRequest):
        app.auth.signin("nobody@x.org", "right")
    with pytest.raises(TooManyRequests):
        for _ in range(app.auth.signin_limit + 1):
            app.auth.signin("ada@x.org", "right")


def test_signing_out_revokes_the_token(app: Services) -> None:
    session, _ = app.auth.signup("Ada", "ada@x.org", "pw", None)
    who = app.auth.authenticate(session.token)
    app.auth.signout(who)
    with pytest.raises(Unauthorized):
        app.auth.authenticate(session.token)


def test_a_changed_password_ends_older_sessions(app: Services) -> None:
    session, _ = app.auth.signup("Ada", "ada@x.org", "old", None)
    app.auth.update_password(app.auth.authenticate(session.token), "old", "new")
    with pytest.raises(Unauthorized):
        app.auth.authenticate(session.token)
    assert app.auth.signin("ada@x.org", "new")[0].user.name == "Ada"


def test_the_admin_sets_roles_but_not_the_last_admins_away(app: Services, admin, user) -> None:
    promoted = app.users.admin_update(admin, user.id, "admin", None, None, None, None).value
    assert promoted.role == "admin"
    app.users.admin_update(principal_of(app, user.id), user.id, "user", None, None, None, None)
    assert app.store.get(UUID(user.id)).role == "user"
    with pytest.raises(Forbidden):  # the primary admin is protected
        app.users.admin_update(principal_of(app, user.id), admin.id, "user", None, None, None,
                               None)


def principal_of(app: Services, user_id: str):  # type: ignore[no-untyped-def]
    from application.auth import Principal

    return Principal(id=user_id, role=app.store.get(UUID(user_id)).role, via="session")


def test_the_admin_moves_an_email_and_frees_the_old_one(app: Services, admin, user) -> None:
    app.users.admin_update(admin, user.id, None, "Robert", "rob@x.org", None, None)
    moved = app.store.get(UUID(user.id))
    assert (moved.name, moved.email) == ("Robert", "rob@x.org")
    fresh, _ = app.auth.signup("New Bob", "bob@x.org", "pw", None)  # the old address is free
    assert fresh.user.email == "bob@x.org"
    with pytest.raises(BadRequest):
        app.auth.signup("Eve", "rob@x.org", "pw", None)


def test_user_settings_are_kept_on_the_user(app: Services, user) -> None:
    settings = {"ui": {"theme": "dark"}}
    asyncio.run(app.users.update_settings(user, settings))
    assert app.store.get(UUID(user.id)).settings == settings
    assert app.users.get_row(user.id)["settings"] == settings


def test_users_page_lists_the_read_model(app: Services, admin, user, other) -> None:
    rows, total = app.users.page(None, None, None, None)
    assert total == 3 and {r["email"] for r in rows} == {"ada@x.org", "bob@x.org", "cy@x.org"}


def test_deleting_a_user_frees_the_email_and_ends_sessions(app: Services, admin) -> None:
    session, _ = app.auth.signup("Bob", "bob@x.org", "pw", None)
    bob = principal(session)
    app.users.delete(admin, bob.id)
    assert app.store.get(UUID(bob.id)).deleted
    with pytest.raises(Unauthorized):
        app.auth.authenticate(session.token)
    assert app.auth.signup("Bob again", "bob@x.org", "pw", None)[0].user.role == "pending"
