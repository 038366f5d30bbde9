"""Concurrent commands through the HTTP API: every accepted command is in the log exactly once,
nothing is answered 500, and the invariants hold (one first admin, one owner per e-mail)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from application.commands import CONFLICT_DETAIL
from application.messages import Detail
from domain.directory import DIRECTORY_ID
from tests.api.test_authz_matrix import (
    World,
    close_shared_worlds,
    no_cookie_jar,
    shared_world,
)

A, U = "/api/v1/auths", "/api/v1/users"
PASSWORD = "correct horse"
N = 32


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(request.param)) as w:
        yield w


def in_parallel(count: int, call: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def logged(container: Any, after: int) -> list[tuple[int, Any]]:
    """(position, event) of everything written after `after`."""
    events, position = [], after
    while True:
        page = container.store.select(position, 500)
        if not page:
            return events
        events += [(n.id, container.store.decode(n)) for n in page]
        position = page[-1].id


def kind(event: Any) -> str:
    return type(event).__qualname__.rsplit(".", 1)[-1]


def test_concurrent_settings_updates_of_one_user(world: World) -> None:
    client, container = world.client, world.container
    caller = world.fresh("Busy")
    head = container.store.head()

    def update(i: int) -> Any:
        return client.post(f"{U}/user/settings/update", json={"ui": {"n": i}},
                           headers=caller.headers)

    responses = in_parallel(N, update)
    statuses = Counter(r.status_code for r in responses)
    # In one process, commands that lost a race take turns on the aggregate: none is refused.
    assert statuses == {200: N}, statuses
    assert {r.json()["detail"] for r in responses if r.status_code == 409} <= {CONFLICT_DETAIL}
    accepted = {int(r.headers["X-Chronicle-Position"]): r.json()["ui"]["n"]
                for r in responses if r.status_code == 200}
    assert len(accepted) == statuses[200]  # each accepted command has its own position

    updates = {position: event.settings["ui"]["n"] for position, event in logged(container, head)
               if kind(event) == "SettingsUpdated" and str(event.originator_id) == caller.id}
    assert updates == accepted  # every accepted command is in the log, nothing else is
    versions = [e.originator_version for _, e in logged(container, head)
                if str(e.originator_id) == caller.id]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    last = accepted[max(accepted)]
    r = client.get(f"{U}/user/settings", headers=caller.headers)
    assert r.json() == {"ui": {"n": last}}  # the last write in the log wins


def test_concurrent_signups(world: World) -> None:
    client, container, admin = world.client, world.container, world.people.admin
    tag = uuid.uuid4().hex[:8]
    head = container.store.head()

    def join(i: int) -> Any:
        return client.post(f"{A}/signup", json={"name": f"Crowd {tag} {i}", "password": PASSWORD,
                                                "email": f"crowd-{tag}-{i}@example.com"})

    responses = in_parallel(N, join)
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    accepted = {r.json()["id"] for r in responses if r.status_code == 200}
    assert len(accepted) == statuses[200] >= 1
    assert {r.json()["role"] for r in responses if r.status_code == 200} == {"pending"}

    registered = {str(e.originator_id) for _, e in logged(container, head)
                  if kind(e) == "Registered" and e.name.startswith(f"Crowd {tag}")}
    assert registered == accepted
    position = max(int(r.headers["X-Chronicle-Position"]) for r in responses
                   if r.status_code == 200)
    r = client.get(f"{U}/", params={"query": f"crowd-{tag}"},
                   headers={**admin.headers, "X-Chronicle-Min-Position": str(position)})
    assert r.json()["total"] == len(accepted)
    for response in responses:  # each session works
        if response.status_code == 200:
            token = {"Authorization": f"Bearer {response.json()['token']}"}
            assert client.get(f"{A}/", headers=token).status_code == 200


def test_concurrent_signups_for_one_email(world: World) -> None:
    client, container = world.client, world.container
    address = f"contested-{uuid.uuid4().hex[:8]}@example.com"
    head = container.store.head()

    def claim(i: int) -> Any:
        return client.post(f"{A}/signup", json={"name": f"Claimant {i}", "email": address,
                                                "password": PASSWORD})

    responses = in_parallel(8, claim)
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] == 1 and statuses[400] == 7, statuses
    assert {r.json()["detail"] for r in responses if r.status_code == 400} == {Detail.EMAIL_TAKEN}
    winner = next(r.json()["id"] for r in responses if r.status_code == 200)
    registered = [e for _, e in logged(container, head) if kind(e) == "Registered"]
    assert [str(e.originator_id) for e in registered] == [winner]


@pytest.fixture
def no_shared_world() -> None:
    """Requested before `client`: the shared installation is closed before a fresh one opens."""
    close_shared_worlds()


def test_concurrent_first_signups_make_one_admin(no_shared_world, client, container) -> None:
    no_cookie_jar(client)
    tag = uuid.uuid4().hex[:8]

    def join(i: int) -> Any:
        return client.post(f"{A}/signup", json={"name": f"Founder {i}", "password": PASSWORD,
                                                "email": f"founder-{tag}-{i}@example.com"})

    responses = in_parallel(N, join)
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    roles = Counter(r.json()["role"] for r in responses if r.status_code == 200)
    assert roles["admin"] == 1 and roles["pending"] == statuses[200] - 1, roles
    admin = next(r.json()["id"] for r in responses
                 if r.status_code == 200 and r.json()["role"] == "admin")
    assert container.store.get(DIRECTORY_ID).admins == [admin]
    registered = [e for _, e in logged(container, 0) if kind(e) == "Registered"]
    assert len(registered) == statuses[200]
