"""Who may call every prompts route, and what bad input gets (4xx, never 500, nothing written).

The matrix's callers: anonymous, pending, user (the prompt's owner where a route takes a prompt,
holding workspace.prompts), another user, admin. Statuses are Open WebUI 0.12.4's: an unreadable
prompt is 404, its history 401; changing someone else's prompt is 401.
"""

from __future__ import annotations

import uuid

import pytest

from application.messages import Detail
from tests.models.conftest import CALLERS
from tests.models.helpers import seen
from tests.prompts.helpers import API, create, prompt_form, update, user_grant


@pytest.fixture
def may_create(permissions):
    permissions(workspace={"prompts": True})


def _status(client, people, who, method, path, **kwargs):
    headers = None if people.all()[who] is None else seen(client, getattr(people, who))
    return client.request(method, f"{API}{path}", headers=headers, **kwargs).status_code


def _matrix(client, people, method, path_of, fresh_each=False, **kwargs):
    """Each caller's status on the route; `path_of(prompt)` names it for a prompt owned by
    `people.user`: one prompt for all (reads), or a fresh one per caller (commands)."""
    shared = create(client, people.user)
    got = {}
    for who in CALLERS:
        prompt = create(client, people.user) if fresh_each else shared
        got[who] = _status(client, people, who, method, path_of(prompt), **kwargs)
    return got


def test_lists_are_for_verified_users(client, people):
    for path in ("/", "/list", "/tags"):
        got = {who: _status(client, people, who, "GET", path) for who in CALLERS}
        assert got == dict(zip(CALLERS, [401, 401, 200, 200, 200], strict=True)), path


def test_create_needs_the_workspace_permission(client, people, permissions):
    denied = {who: _status(client, people, who, "POST", "/create", json=prompt_form())
              for who in CALLERS}
    assert denied == dict(zip(CALLERS, [401, 401, 401, 401, 200], strict=True))
    permissions(workspace={"prompts": True})
    allowed = {who: _status(client, people, who, "POST", "/create", json=prompt_form())
               for who in CALLERS}
    assert allowed == dict(zip(CALLERS, [401, 401, 200, 200, 200], strict=True))
    permissions(workspace={"prompts_import": True})  # importing prompts creates them too
    assert _status(client, people, "user", "POST", "/create", json=prompt_form()) == 200


def test_unauthorized_detail(client, people):
    r = client.post(f"{API}/create", json=prompt_form(), headers=people.user.headers)
    assert r.status_code == 401 and r.json()["detail"] == Detail.UNAUTHORIZED


READS = [lambda p: f"/id/{p['id']}"]
HISTORY_READS = [lambda p: f"/id/{p['id']}/history", lambda p: f"/id/{p['id']}/history/1"]


def test_reading_a_private_prompt(client, people, may_create):
    got = _matrix(client, people, "GET", lambda p: f"/id/{p['id']}")
    assert got == dict(zip(CALLERS, [401, 401, 200, 404, 200], strict=True))


@pytest.mark.parametrize("path_of", HISTORY_READS, ids=["history", "entry"])
def test_reading_a_private_history(client, people, may_create, path_of):
    got = _matrix(client, people, "GET", path_of)
    assert got == dict(zip(CALLERS, [401, 401, 200, 401, 200], strict=True))


def test_reading_a_private_diff(client, people, may_create):
    got = _matrix(client, people, "GET", lambda p: f"/id/{p['id']}/history/diff",
                  params={"from_id": "1", "to_id": "1"})
    assert got == dict(zip(CALLERS, [401, 401, 200, 401, 200], strict=True))


def _edit(prompt):
    return {"command": prompt["command"], "name": prompt["name"], "content": "changed"}


COMMANDS = {
    "update": ("POST", lambda p: f"/id/{p['id']}/update", lambda p: {"json": _edit(p)}),
    "meta": ("POST", lambda p: f"/id/{p['id']}/update/meta",
             lambda p: {"json": {"name": "N", "command": p["command"], "tags": ["t"]}}),
    "version": ("POST", lambda p: f"/id/{p['id']}/update/version",
                lambda p: {"json": {"version_id": "1"}}),
    "access": ("POST", lambda p: f"/id/{p['id']}/access/update",
               lambda p: {"json": {"access_grants": []}}),
    "toggle": ("POST", lambda p: f"/id/{p['id']}/toggle", lambda p: {}),
    "delete": ("DELETE", lambda p: f"/id/{p['id']}/delete", lambda p: {}),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_commands_need_write_access(client, people, may_create, name):
    method, path_of, body_of = COMMANDS[name]
    got = {}
    for who in CALLERS:
        prompt = create(client, people.user)
        got[who] = _status(client, people, who, method, path_of(prompt), **body_of(prompt))
    assert got == dict(zip(CALLERS, [401, 401, 200, 401, 200], strict=True))


def test_deleting_a_history_entry_needs_write_access(client, people, may_create):
    got = {}
    for who in CALLERS:
        prompt = update(client, people.user, create(client, people.user), content="v2")
        got[who] = _status(client, people, who, "DELETE", f"/id/{prompt['id']}/history/1")
    assert got == dict(zip(CALLERS, [401, 401, 200, 401, 200], strict=True))


def test_refusals_change_nothing(client, people, container, may_create):
    prompt = create(client, people.user)
    head = container.store.head()
    for name, (method, path_of, body_of) in COMMANDS.items():
        r = client.request(method, f"{API}{path_of(prompt)}", headers=people.other.headers,
                           **body_of(prompt))
        assert r.status_code == 401, name
        assert r.json()["detail"] == Detail.ACCESS_PROHIBITED
    assert container.store.head() == head


# -- bad input --------------------------------------------------------------------------------
BAD_CREATES = [
    {"command": "has space"}, {"command": "sl/ash"}, {"command": ""}, {"command": "x" * 256},
    {"name": None}, {"content": None}, {"content": "x" * 1_000_001}, {"tags": "writing"},
    {"tags": ["t"] * 101}, {"data": []}, {"commit_message": "x" * 10_001},
    {"access_grants": [{"principal_type": "anyone", "principal_id": "*", "permission": "read"}]},
    {"access_grants": [{"principal_type": "user", "principal_id": "u", "permission": "own"}]},
    {"name": "nul\x00"},
]


@pytest.mark.parametrize("bad", BAD_CREATES, ids=lambda b: next(iter(b)))
def test_bad_creates_are_422_and_write_nothing(client, people, container, bad):
    head = container.store.head()
    r = client.post(f"{API}/create", json=prompt_form(**bad), headers=people.admin.headers)
    assert r.status_code == 422, r.text
    assert container.store.head() == head


def test_a_taken_command_is_refused(client, people, container):
    taken = create(client, people.admin)
    head = container.store.head()
    for body in (prompt_form(command=taken["command"]),
                 prompt_form(command="/" + taken["command"])):  # the app's "/" is dropped
        r = client.post(f"{API}/create", json=body, headers=people.admin.headers)
        assert r.status_code == 400 and r.json()["detail"] == Detail.COMMAND_TAKEN
    other = create(client, people.admin)
    head = container.store.head()
    for path, body in ((f"/id/{other['id']}/update", {**_edit(other), "command": taken["command"]}),
                       (f"/id/{other['id']}/update/meta",
                        {"name": "n", "command": taken["command"]})):
        r = client.post(f"{API}{path}", json=body, headers=people.admin.headers)
        assert r.status_code == 400 and r.json()["detail"] == Detail.COMMAND_TAKEN
    assert container.store.head() == head


@pytest.mark.parametrize("prompt_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 64])
def test_unknown_prompts_are_404(client, people, prompt_id):
    for method, path, kwargs in [
        ("GET", "", {}), ("GET", "/history", {}), ("GET", "/history/1", {}),
        ("GET", "/history/diff", {"params": {"from_id": "1", "to_id": "1"}}),
        ("POST", "/update", {"json": prompt_form()}), ("POST", "/toggle", {}),
        ("POST", "/update/meta", {"json": {"name": "n", "command": "c"}}),
        ("POST", "/update/version", {"json": {"version_id": "1"}}),
        ("POST", "/access/update", {"json": {"access_grants": []}}),
        ("DELETE", "/delete", {}), ("DELETE", "/history/1", {}),
    ]:
        r = client.request(method, f"{API}/id/{prompt_id}{path}", headers=people.admin.headers,
                           **kwargs)
        assert r.status_code == 404, (method, path, r.text)


def test_unknown_versions(client, people, container):
    prompt = create(client, people.admin)
    head = container.store.head()
    h = people.admin.headers
    for version in ("2", "0", "abc", "99999999999999999999"):
        assert client.get(f"{API}/id/{prompt['id']}/history/{version}", headers=h).status_code == 404
        r = client.get(f"{API}/id/{prompt['id']}/history/diff", params={"from_id": "1",
                                                                         "to_id": version},
                       headers=h)
        assert r.status_code == 404
        r = client.post(f"{API}/id/{prompt['id']}/update/version", json={"version_id": version},
                        headers=h)
        assert r.status_code == 400
        assert client.delete(f"{API}/id/{prompt['id']}/history/{version}",
                             headers=h).status_code == 404
    r = client.get(f"{API}/id/{prompt['id']}/history/diff", headers=h)  # both ids required
    assert r.status_code == 422
    r = client.delete(f"{API}/id/{prompt['id']}/history/1", headers=h)
    assert r.status_code == 400 and r.json()["detail"] == "Cannot delete the active production version"
    assert client.get(f"{API}/id/{prompt['id']}/history", params={"page": -1},
                      headers=h).status_code == 422
    assert container.store.head() == head


def test_sharing_needs_the_sharing_permission(client, people, container, may_create):
    prompt = create(client, people.user)
    head = container.store.head()
    r = client.post(f"{API}/id/{prompt['id']}/access/update",
                    json={"access_grants": [user_grant(people.other.id)]},
                    headers=people.user.headers)
    assert r.status_code == 403 and r.json()["detail"] == Detail.SHARE_FORBIDDEN
    assert container.store.head() == head
    # On create, grants the caller may not give are dropped silently (0.12.4).
    made = create(client, people.user, access_grants=[user_grant(people.other.id)])
    assert made["access_grants"] == []
    r = client.get(f"{API}/id/{made['id']}", headers=seen(client, people.other))
    assert r.status_code == 404


def test_malformed_access_updates_are_422(client, people, container):
    prompt = create(client, people.admin)
    head = container.store.head()
    for body in ({}, {"access_grants": None}, {"access_grants": [{"principal_type": "user"}]},
                 {"access_grants": [{"principal_type": "group", "principal_id": "",
                                     "permission": "read"}]}):
        r = client.post(f"{API}/id/{prompt['id']}/access/update", json=body,
                        headers=people.admin.headers)
        assert r.status_code == 422, body
    assert container.store.head() == head
