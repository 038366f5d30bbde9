"""Who may call every notes route, and what bad input gets (4xx, never 500, nothing written).

The callers: anonymous, pending, the note's owner, another user, a user with a read grant, one
with a write grant, and an admin. Each caller meets a fresh note (owned by `people.user`, shared
by the admin with the reader and the writer), so one caller's delete or pin cannot change what
the next one meets. Statuses and details are Open WebUI 0.12.4's (routers/notes.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from application.messages import Detail
from tests.helpers import Caller
from tests.notes.helpers import API, create, grants, note_form, seen, share

CALLERS = ("anonymous", "pending", "owner", "other", "reader", "writer", "admin")
DENIED = Detail.DEFAULT()  # the reference's 403 detail for a note the caller may not touch


@pytest.fixture(scope="module")
def cast(client: Any, people: Any) -> dict[str, Caller | None]:
    from tests.helpers import set_role, signup

    reader = set_role(client, people.admin, signup(client, "Reader"), "user")
    writer = set_role(client, people.admin, signup(client, "Writer"), "user")
    return {"anonymous": None, "pending": people.pending, "owner": people.user,
            "other": people.other, "reader": reader, "writer": writer, "admin": people.admin}


def fresh_note(client: Any, people: Any, cast: dict[str, Caller | None]) -> str:
    note_id = create(client, people.user)["id"]
    reader, writer = cast["reader"], cast["writer"]
    assert reader is not None and writer is not None
    share(client, people.admin, note_id, read=(reader.id,), write=(writer.id,))
    return note_id


def matrix(client: Any, people: Any, cast: dict[str, Caller | None], method: str, path: str,
           **kwargs: Any) -> dict[str, tuple[int, Any]]:
    got = {}
    for who in CALLERS:
        caller = cast[who]
        note_id = fresh_note(client, people, cast)
        headers = None if caller is None else seen(client, caller)
        client.cookies.clear()  # a sign-up's cookie would make "anonymous" someone
        r = client.request(method, API + path.format(id=note_id), headers=headers, **kwargs)
        got[who] = (r.status_code, r.json())
    return got


def statuses(got: dict[str, tuple[int, Any]]) -> list[int]:
    return [got[who][0] for who in CALLERS]


@pytest.mark.parametrize("path", ["/", "/pinned", "/search", "/?page=1"])
def test_lists_are_for_verified_users(client, people, cast, path):
    client.cookies.clear()
    got = [client.get(API + path, headers=None if c is None else c.headers).status_code
           for c in cast.values()]
    assert got == [401, 401, 200, 200, 200, 200, 200]


def test_create_is_for_verified_users(client, cast):
    client.cookies.clear()
    got = [client.post(f"{API}/create", json=note_form(),
                       headers=None if c is None else c.headers).status_code
           for c in cast.values()]
    assert got == [401, 401, 200, 200, 200, 200, 200]


def test_get_needs_read_access(client, people, cast):
    got = matrix(client, people, cast, "GET", "/{id}")
    assert statuses(got) == [401, 401, 200, 403, 200, 200, 200]
    assert got["other"][1]["detail"] == DENIED
    assert [got[w][1]["write_access"] for w in ("owner", "reader", "writer", "admin")] == \
        [True, False, True, True]


def test_update_needs_write_access(client, people, cast):
    got = matrix(client, people, cast, "POST", "/{id}/update", json={"title": "Renamed"})
    assert statuses(got) == [401, 401, 200, 403, 403, 200, 200]
    assert got["reader"][1]["detail"] == DENIED
    assert got["writer"][1]["title"] == "Renamed"


def test_pin_needs_read_access(client, people, cast):
    got = matrix(client, people, cast, "POST", "/{id}/pin")
    assert statuses(got) == [401, 401, 200, 403, 200, 200, 200]
    assert got["reader"][1]["is_pinned"] is True


def test_delete_needs_write_access(client, people, cast):
    got = matrix(client, people, cast, "DELETE", "/{id}/delete")
    assert statuses(got) == [401, 401, 200, 403, 403, 200, 200]
    assert got["owner"][1] is True


def test_access_update_needs_write_access(client, people, cast, permissions):
    permissions(sharing={"notes": True})  # a writer may share only with the sharing permission
    body = {"access_grants": grants(read=(people.other.id,))}
    got = matrix(client, people, cast, "POST", "/{id}/access/update", json=body)
    assert statuses(got) == [401, 401, 200, 403, 403, 200, 200]


def test_sharing_without_the_permission_is_refused(client, people, cast):
    note_id = fresh_note(client, people, cast)
    writer = cast["writer"]
    assert writer is not None
    head = client.app.state.container.store.head()
    r = client.post(f"{API}/{note_id}/access/update", headers=writer.headers,
                    json={"access_grants": grants(read=(people.other.id,))})
    assert r.status_code == 403 and r.json()["detail"] == Detail.SHARE_FORBIDDEN
    assert client.app.state.container.store.head() == head


def test_grants_a_user_may_not_give_are_dropped_on_create(client, people):
    made = create(client, people.user, access_grants=grants(read=(people.other.id,)))
    assert made["access_grants"] == []  # sharing.notes is off by default
    r = client.get(f"{API}/{made['id']}", headers=seen(client, people.other))
    assert r.status_code == 403


def test_users_need_the_notes_feature(client, people, permissions):
    permissions(features={"notes": False})
    for route in ("/", "/pinned", "/search"):
        r = client.get(API + route, headers=people.user.headers)
        assert r.status_code == 401 and r.json()["detail"] == Detail.UNAUTHORIZED
    r = client.post(f"{API}/create", json=note_form(), headers=people.user.headers)
    assert r.status_code == 401
    assert client.get(f"{API}/", headers=people.admin.headers).status_code == 200


def test_a_disabled_feature_is_403_for_everyone(client, people):
    try:
        r = client.post("/api/v1/auths/admin/config", headers=people.admin.headers,
                        json={**current_config(client, people), "ENABLE_NOTES": False})
        assert r.status_code == 200, r.text
        r = client.get(f"{API}/", headers=people.admin.headers)
        assert r.status_code == 403 and r.json()["detail"] == "Notes is disabled"
    finally:
        client.post("/api/v1/auths/admin/config", headers=people.admin.headers,
                    json={**current_config(client, people), "ENABLE_NOTES": True})


def current_config(client: Any, people: Any) -> dict[str, Any]:
    r = client.get("/api/v1/auths/admin/config", headers=people.admin.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


# -- bad input ----------------------------------------------------------------------------------
def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


BAD_CREATES = [
    {"data": {}},  # no title
    {"title": None},
    {"title": "a\x00b"},
    {"title": "t" * 10_001},
    {"title": "t", "data": "text"},
    {"title": "t", "data": {"content": deep(300)}},
    {"title": "t", "meta": ["not", "an", "object"]},
    {"title": "t", "access_grants": [{"principal_type": "robot", "principal_id": "x",
                                      "permission": "read"}]},
    {"title": "t", "access_grants": [{"principal_type": "user", "principal_id": "x",
                                      "permission": "own"}]},
    {"title": "t", "access_grants": "everyone"},
]


@pytest.mark.parametrize("body", BAD_CREATES)
def test_bad_creates_write_nothing(client, people, body):
    head = client.app.state.container.store.head()
    r = client.post(f"{API}/create", json=body, headers=people.user.headers)
    assert r.status_code == 422, r.text
    assert client.app.state.container.store.head() == head


def test_bad_ids_and_bodies_on_a_note(client, people):
    container = client.app.state.container
    note_id = create(client, people.user)["id"]
    head = container.store.head()
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        for method, path, kwargs in (("GET", "", {}), ("POST", "/update", {"json": {}}),
                                     ("POST", "/pin", {}), ("DELETE", "/delete", {}),
                                     ("POST", "/access/update", {"json": {"access_grants": []}})):
            r = client.request(method, f"{API}/{unknown}{path}", headers=people.user.headers,
                               **kwargs)
            assert (r.status_code, r.json()["detail"]) == (404, Detail.NOT_FOUND), (method, path)
    assert client.get(f"{API}/{'x' * 100}", headers=people.user.headers).status_code == 422
    for body in ({"data": "text"}, {"title": "a\x00"}, {"meta": 3}, {"data": {"c": deep(300)}}):
        r = client.post(f"{API}/{note_id}/update", json=body, headers=people.user.headers)
        assert r.status_code == 422, body
    for body in ({}, {"access_grants": None}, {"access_grants": [{"principal_id": "x"}]}):
        r = client.post(f"{API}/{note_id}/access/update", json=body, headers=people.user.headers)
        assert r.status_code == 422, body
    for params in ({"page": 10**7}, {"page": "one"}, {"query": "q" * 2000}):
        assert client.get(f"{API}/search", params=params,
                          headers=people.user.headers).status_code == 422
    assert client.get(f"{API}/", params={"page": 2**70},
                      headers=people.user.headers).status_code == 422
    assert container.store.head() == head
