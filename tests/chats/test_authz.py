"""Who may call every chats and folders route: anonymous, pending, the owner, another user, admin.

Another user (and, except for reading, an admin) gets exactly what an unknown chat gets: 404.
Nothing a non-owner sends changes the owner's chat; no list leaks it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chats.helpers import API, chat_doc, create


@dataclass
class Setup:
    chat: dict[str, Any]
    share_id: str
    folder_id: str
    secret: str
    position: str  # of the owner's last write: others read at least up to it

    def after(self, caller: Any) -> dict[str, str]:
        return {**caller.headers, "X-Chronicle-Min-Position": self.position}

    def fill(self, path: str, owner_id: str) -> str:
        return path.format(id=self.chat["id"], share=self.share_id, folder=self.folder_id,
                           user=owner_id, secret=self.secret)


@pytest.fixture
def setup(client, people) -> Setup:
    owner = people.user
    secret = f"secret{uuid.uuid4().hex[:8]}"
    folder_id = client.post("/api/v1/folders/", json={"name": secret},
                            headers=owner.headers).json()["id"]
    chat = create(client, owner, secret, f"{secret} body", tags=[secret], folder_id=folder_id)
    shared = client.post(f"{API}/{chat['id']}/share", headers=owner.headers)
    return Setup(chat, shared.json()["share_id"], folder_id, secret,
                 shared.headers["X-Chronicle-Position"])


def call(client: Any, method: str, path: str, body: Any, headers: dict[str, str] | None) -> Any:
    return client.request(method, path, json=body, headers=headers or {})


# (method, path, body, status for admin) — the owner's chat by id; others get 404.
OWN = [
    ("GET", "/{id}", None, 200),  # admins may read any chat, as in the reference
    ("POST", "/{id}", {"chat": {"title": "hijacked"}}, 404),
    ("DELETE", "/{id}", None, 404),
    ("POST", "/{id}/messages/m0", {"content": "hijacked"}, 404),
    ("POST", "/{id}/messages/m0/event", {"type": "chat:message", "data": {"content": "x"}}, 404),
    ("GET", "/{id}/pinned", None, 404),
    ("POST", "/{id}/pin", None, 404),
    ("POST", "/{id}/clone", {}, 404),
    ("POST", "/{id}/archive", None, 404),
    ("POST", "/{id}/share", None, 404),
    ("DELETE", "/{id}/share", None, 404),
    ("POST", "/{id}/folder", {"folder_id": None}, 404),
    ("GET", "/{id}/tags", None, 404),
    ("POST", "/{id}/tags", {"name": "hijacked"}, 404),
    ("DELETE", "/{id}/tags", {"name": "{secret}"}, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "admin_status"), OWN,
                         ids=[f"{m} {p}" for m, p, _, _ in OWN])
def test_only_the_owner_reaches_a_chat(client, people, setup, method, path, body, admin_status):
    url = API + setup.fill(path, people.user.id)
    body = {k: setup.fill(v, "") if isinstance(v, str) else v for k, v in body.items()} \
        if isinstance(body, dict) else body
    before = client.get(f"{API}/{setup.chat['id']}", headers=people.user.headers).json()
    assert call(client, method, url, body, None).status_code == 401
    assert call(client, method, url, body, people.pending.headers).status_code == 401
    other = call(client, method, url, body, people.other.headers)
    assert other.status_code == 404 and other.json()["detail"] == \
        "We could not find what you're looking for :/"
    assert call(client, method, url, body, people.admin.headers).status_code == admin_status
    after = client.get(f"{API}/{setup.chat['id']}", headers=people.user.headers).json()
    assert after == before  # nobody but the owner changed anything
    assert call(client, method, url, body, people.user.headers).status_code == 200


SHARED = [("GET", "/share/{share}"), ("POST", "/{share}/clone/shared")]


@pytest.mark.parametrize(("method", "path"), SHARED, ids=[f"{m} {p}" for m, p in SHARED])
def test_a_share_id_is_readable_by_every_signed_in_user(client, people, setup, method, path):
    url = API + setup.fill(path, people.user.id)
    assert call(client, method, url, None, None).status_code == 401
    assert call(client, method, url, None, people.pending.headers).status_code == 401
    for caller in (people.other, people.admin, people.user):
        r = call(client, method, url, None, setup.after(caller))
        assert r.status_code == 200 and r.json()["title"].endswith(setup.secret)


def test_clone_shared_needs_a_share_id_except_for_admins(client, people, setup):
    url = f"{API}/{setup.chat['id']}/clone/shared"  # a chat id, not a share id
    for caller in (people.other, people.user):
        assert call(client, "POST", url, None, setup.after(caller)).status_code == 404
    assert call(client, "POST", url, None, setup.after(people.admin)).status_code == 200


# The caller's own data: everyone signed in and verified may call; nobody sees the owner's chat.
MINE = [
    ("GET", "/", None),
    ("GET", "/list?include_pinned=true&include_folders=true", None),
    ("GET", "/pinned", None),
    ("GET", "/archived", None),
    ("GET", "/all", None),
    ("GET", "/all/archived", None),
    ("GET", "/all/tags", None),
    ("GET", "/search?text={secret}", None),
    ("POST", "/tags", {"name": "{secret}"}),
    ("GET", "/folder/{folder}", None),
    ("POST", "/new", {"chat": chat_doc("new")}),
    ("POST", "/import", {"chats": [{"chat": chat_doc("imported")}]}),
    ("POST", "/archive/all", None),
    ("POST", "/unarchive/all", None),
    ("DELETE", "/", None),
]


@pytest.mark.parametrize(("method", "path", "body"), MINE, ids=[f"{m} {p}" for m, p, _ in MINE])
def test_lists_and_bulk_commands_touch_only_the_callers_chats(client, people, setup, method,
                                                               path, body):
    url = API + setup.fill(path, people.user.id)
    if isinstance(body, dict) and "name" in body:
        body = {"name": setup.secret}
    before = client.get(f"{API}/{setup.chat['id']}", headers=people.user.headers).json()
    assert call(client, method, url, body, None).status_code == 401
    assert call(client, method, url, body, people.pending.headers).status_code == 401
    for caller in (people.other, people.admin):
        r = call(client, method, url, body, caller.headers)
        assert r.status_code == 200, r.text
        assert setup.chat["id"] not in r.text and setup.secret not in r.text
    after = client.get(f"{API}/{setup.chat['id']}", headers=people.user.headers).json()
    assert after == before
    assert call(client, method, url, body, people.user.headers).status_code == 200


ADMIN = [("GET", "/list/user/{user}"), ("GET", "/all/db")]


@pytest.mark.parametrize(("method", "path"), ADMIN, ids=[f"{m} {p}" for m, p in ADMIN])
def test_admin_only_routes(client, people, setup, method, path):
    url = API + setup.fill(path, people.user.id)
    assert call(client, method, url, None, None).status_code == 401
    for caller in (people.pending, people.user, people.other):
        assert call(client, method, url, None, caller.headers).status_code == 401
    r = call(client, method, url, None, setup.after(people.admin))
    assert r.status_code == 200 and setup.chat["id"] in r.text


FOLDER = [
    ("GET", "/{folder}", None),
    ("POST", "/{folder}/update", {"name": "hijacked"}),
    ("POST", "/{folder}/update/parent", {"parent_id": None}),
    ("POST", "/{folder}/update/expanded", {"is_expanded": True}),
    ("DELETE", "/{folder}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), FOLDER,
                         ids=[f"{m} {p}" for m, p, _ in FOLDER])
def test_only_the_owner_reaches_a_folder(client, people, setup, method, path, body):
    url = "/api/v1/folders" + setup.fill(path, people.user.id)
    before = client.get(url.split("/update")[0], headers=people.user.headers).json()
    assert call(client, method, url, body, None).status_code == 401
    assert call(client, method, url, body, people.pending.headers).status_code == 401
    for caller in (people.other, people.admin):
        assert call(client, method, url, body, caller.headers).status_code == 404
    assert client.get(url.split("/update")[0], headers=people.user.headers).json() == before
    assert call(client, method, url, body, people.user.headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"),
                         [("GET", "/", None), ("POST", "/", {"name": "mine"})])
def test_folder_lists_and_creation_are_per_user(client, people, setup, method, path, body):
    url = "/api/v1/folders" + path
    assert call(client, method, url, body, None).status_code == 401
    assert call(client, method, url, body, people.pending.headers).status_code == 401
    for caller in (people.other, people.admin):
        r = call(client, method, url, {"name": uuid.uuid4().hex} if body else None,
                 caller.headers)
        assert r.status_code == 200 and setup.secret not in r.text
    r = call(client, method, url, {"name": uuid.uuid4().hex} if body else None,
             people.user.headers)
    assert r.status_code == 200
