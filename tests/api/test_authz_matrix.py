"""Who may call every auths/users route: anonymous, pending, user, other user, admin.

"other" acts on the user's resources wherever a path takes a user id. One installation (and one
cast) per backend serves the whole matrix; the callers run in the order above, so the one
destructive call of a route (the admin's) comes last.

Also home of `shared_world`, the module-scoped installation the other API suites reuse (argon2
makes a cast cost a second, and PostgreSQL databases are slow to create and drop).
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from application.messages import Detail
from interfaces.schemas.auths import ADMIN_CONFIG_DEFAULTS
from interfaces.schemas.users import default_user_permissions
from tests.conftest import backend_env, drop_pg_database, make_settings
from tests.helpers import Caller, Cast, cast, set_role, signup

CALLERS = ("anonymous", "pending", "user", "other", "admin")


@dataclass
class World:
    backend: str
    client: Any
    container: Any
    people: Cast
    closed: bool = False

    def caught_up(self) -> dict[str, str]:
        """Read-your-writes covers the caller's own writes; to see everyone's, pass the head."""
        return {"X-Chronicle-Min-Position": str(self.container.store.head())}

    def fresh(self, name: str = "Fresh", role: str = "user", password: str = "correct horse"
              ) -> Caller:
        """A user of its own, for tests that sign out, change passwords or delete."""
        caller = signup(self.client, name, password=password)
        return set_role(self.client, self.people.admin, caller, role) if role != caller.role \
            else caller


def no_cookie_jar(client: Any) -> None:
    """Credentials are sent explicitly: the client must not replay the last `token` cookie."""
    client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


_OPEN: list[Callable[[], None]] = []  # closers of the shared worlds still open


@contextmanager
def shared_world(backend: str, tmp: Path) -> Iterator[World]:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app
    from interfaces.composition.bootstrap import bootstrap

    env = backend_env(backend, tmp)
    container = bootstrap(make_settings(env))
    client = TestClient(create_app(container=container))
    client.__enter__()
    world: World | None = None

    def close() -> None:
        if world is not None:
            world.closed = True
        if close in _OPEN:
            _OPEN.remove(close)
            client.__exit__(None, None, None)
            container.close()
            if "DATABASE_URL" in env:
                drop_pg_database(env["DATABASE_URL"])

    _OPEN.append(close)
    try:
        no_cookie_jar(client)
        world = World(backend, client, container, cast(client))
        yield world
    finally:
        close()


def close_shared_worlds() -> None:
    """Before a test builds a fresh installation of its own: one PostgreSQL installation at a
    time (each holds ~20 connections). Shared worlds' tests run first in their module."""
    for close in list(_OPEN):
        close()


def reset(world: World) -> None:
    """Back to the installation's defaults after a test that changed configuration."""
    assert not world.closed, "a shared world was used after a fresh-install test closed it"
    admin = world.people.admin.headers
    r = world.client.post("/api/v1/auths/admin/config", headers=admin,
                          json={**ADMIN_CONFIG_DEFAULTS, "ENABLE_SIGNUP": True})
    assert r.status_code == 200, r.text
    r = world.client.post("/api/v1/users/default/permissions", headers=admin,
                          json=default_user_permissions())
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(request.param)) as w:
        yield w


# -- the matrix -------------------------------------------------------------------------------

U, P, N = 401, 401, 401  # shorthand: anonymous / pending / non-admin refusals are all 401
PASSWORD = "correct horse"
Body = Callable[[World, str], Any]


@dataclass
class Route:
    method: str
    path: str  # {uid} → the user's id (the resource "other" acts on), {victim} → a throwaway user
    expect: tuple[int, int, int, int, int]  # anonymous, pending, user, other, admin
    body: Body | None = None
    detail: str | None = None  # the refusal detail of pending/non-admin callers, when refused
    fresh_sessions: bool = False  # callers use fresh sign-ins (the route revokes the token)


def _admin_config(w: World, who: str) -> Any:
    r = w.client.get("/api/v1/auths/admin/config", headers=w.people.admin.headers)
    return r.json()


def _profile(w: World, who: str) -> Any:
    return {"name": who.title(), "profile_image_url": "/user.png"}


ROUTES = [
    # auths
    Route("POST", "/api/v1/auths/signup", (200, 200, 200, 200, 200),
          body=lambda w, who: {"name": who, "email": f"{who}-{w.backend}-matrix@example.com",
                               "password": PASSWORD}),
    Route("POST", "/api/v1/auths/signin", (200, 200, 200, 200, 200),
          body=lambda w, who: {"email": w.people.user.email, "password": PASSWORD}),
    Route("GET", "/api/v1/auths/signout", (200, 200, 200, 200, 200), fresh_sessions=True),
    Route("POST", "/api/v1/auths/signout", (200, 200, 200, 200, 200), fresh_sessions=True),
    Route("POST", "/api/v1/auths/ldap", (400, 400, 400, 400, 400),
          body=lambda w, who: {"user": who, "password": "x"}),
    Route("GET", "/api/v1/auths/", (U, 200, 200, 200, 200)),
    Route("POST", "/api/v1/auths/update/profile", (U, P, 200, 200, 200), body=_profile,
          detail=Detail.ACCESS_PROHIBITED),
    # a wrong current password: passing the guard shows as 400, and no session is ended
    Route("POST", "/api/v1/auths/update/password", (U, 400, 400, 400, 400),
          body=lambda w, who: {"password": "wrong", "new_password": "x"}),
    Route("POST", "/api/v1/auths/api_key", (U, 403, 403, 403, 403)),  # API keys off by default
    Route("GET", "/api/v1/auths/api_key", (U, 403, 403, 403, 403)),
    Route("DELETE", "/api/v1/auths/api_key", (U, 403, 403, 403, 403)),
    Route("POST", "/api/v1/auths/update/timezone", (U, 200, 200, 200, 200),
          body=lambda w, who: {"timezone": "Europe/Paris"}),
    Route("GET", "/api/v1/auths/mfa/status", (U, 200, 200, 200, 200)),
    Route("GET", "/api/v1/auths/admin/details", (U, 200, 200, 200, 200)),
    Route("POST", "/api/v1/auths/add", (U, P, N, N, 200), detail=Detail.ACCESS_PROHIBITED,
          body=lambda w, who: {"name": who, "email": f"{who}-{w.backend}-added@example.com",
                               "password": PASSWORD}),
    Route("GET", "/api/v1/auths/admin/config", (U, P, N, N, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("POST", "/api/v1/auths/admin/config", (U, P, N, N, 200), body=_admin_config,
          detail=Detail.ACCESS_PROHIBITED),
    # users: collections and the caller's own documents
    Route("GET", "/api/v1/users/", (U, P, N, N, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/all", (U, P, N, N, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/search", (U, P, 200, 200, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/groups", (U, P, 200, 200, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/permissions", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/default/permissions", (U, P, N, N, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/default/permissions/defaults", (U, P, N, N, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("POST", "/api/v1/users/default/permissions", (U, P, N, N, 200),
          body=lambda w, who: default_user_permissions(), detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/user/settings", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("POST", "/api/v1/users/user/settings/update", (U, P, 200, 200, 200),
          body=lambda w, who: {"ui": {"theme": who}}, detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/user/status", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("POST", "/api/v1/users/user/status/update", (U, P, 200, 200, 200),
          body=lambda w, who: {"status_message": who}, detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/user/info", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("POST", "/api/v1/users/user/info/update", (U, P, 200, 200, 200),
          body=lambda w, who: {"matrix": who}, detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/user/variables", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("POST", "/api/v1/users/user/variables/update", (U, P, 200, 200, 200),
          body=lambda w, who: {"variables": {"who": who}}, detail=Detail.ACCESS_PROHIBITED),
    # users: by id ("other" acts on the user's id)
    Route("GET", "/api/v1/users/{uid}", (U, P, 200, 200, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/{uid}/info", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/{uid}/active", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/{uid}/profile/image", (U, P, 200, 200, 200),
          detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/{uid}/oauth/sessions", (U, P, N, N, 400),  # none → 400 (quirk)
          detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/{uid}/groups", (U, P, N, N, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("GET", "/api/v1/users/{uid}/preview", (U, P, N, N, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("POST", "/api/v1/users/{uid}/update", (U, P, N, N, 200),
          body=lambda w, who: {"name": "Alice"}, detail=Detail.ACCESS_PROHIBITED),
    Route("DELETE", "/api/v1/users/{victim}", (U, P, N, N, 200), detail=Detail.ACCESS_PROHIBITED),
    Route("DELETE", "/api/v1/users/{victim}/erase", (U, P, N, N, 200),
          detail=Detail.ACCESS_PROHIBITED),
]


def _callers(w: World, fresh_sessions: bool) -> dict[str, dict[str, str] | None]:
    people = w.people
    if not fresh_sessions:
        return people.all()
    headers: dict[str, dict[str, str] | None] = {"anonymous": None}
    for who, caller in (("pending", people.pending), ("user", people.user),
                        ("other", people.other), ("admin", people.admin)):
        r = w.client.post("/api/v1/auths/signin", json={"email": caller.email,
                                                        "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers[who] = {"Authorization": f"Bearer {r.json()['token']}"}
    return headers


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_authorization(world: World, route: Route) -> None:
    path = route.path.replace("{uid}", world.people.user.id)
    if "{victim}" in path:
        path = path.replace("{victim}", world.fresh("Victim").id)
    headers = _callers(world, route.fresh_sessions)
    got: dict[str, int] = {}
    for who in CALLERS:
        kwargs: dict[str, Any] = {"headers": headers[who]}
        if route.body is not None:
            kwargs["json"] = route.body(world, who)
        r = world.client.request(route.method, path, **kwargs)
        got[who] = r.status_code
        assert r.status_code != 500, r.text
        if r.status_code == 401 and who == "anonymous":
            assert r.json()["detail"] == Detail.NOT_AUTHENTICATED
        elif r.status_code == 401 and route.detail:
            assert r.json()["detail"] == route.detail, (who, r.text)
    assert got == dict(zip(CALLERS, route.expect, strict=True))
    if route.fresh_sessions:  # signed out: those sessions are over
        for who in CALLERS[1:]:
            r = world.client.get("/api/v1/auths/", headers=headers[who])
            assert r.status_code == 401, who
    reset(world)


def test_every_auths_and_users_route_is_in_the_matrix(world: World) -> None:
    paths = world.client.app.openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops
              if path.startswith(("/api/v1/auths", "/api/v1/users"))}
    served.add(("POST", "/api/v1/auths/signout"))  # 0.12.4's method, hidden from the schema
    covered = {(r.method, r.path.replace("{victim}", "{user_id}").replace("{uid}", "{user_id}"))
               for r in ROUTES}
    assert served == covered


def test_other_user_sees_a_reduced_profile(world: World) -> None:
    """'other' may read the user's public profile, never email, settings or info."""
    client, people = world.client, world.people
    client.post("/api/v1/users/user/settings/update", json={"ui": {"secret": "s3"}},
                headers=people.user.headers)
    r = client.get(f"/api/v1/users/{people.user.id}", headers=people.other.headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"id", "name", "profile_image_url", "status_emoji", "status_message",
                         "status_expires_at", "groups", "is_active"}
    assert people.user.email not in r.text and "s3" not in r.text
    r = client.get(f"/api/v1/users/{people.user.id}", headers=people.admin.headers)
    assert r.json()["email"] == people.user.email
    assert r.json()["settings"]["ui"]["secret"] == "s3"
    # Commands on "me" always act on the caller: no path or body can aim them at someone else.
    r = client.post("/api/v1/users/user/info/update", json={"id": people.user.id, "x": 1},
                    headers=people.other.headers)
    assert r.status_code == 200
    r = client.get("/api/v1/users/user/info", headers=people.user.headers)
    assert r.json() is None or "x" not in r.json()
