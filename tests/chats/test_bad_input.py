"""Bad input gets a 4xx, never a 500, and nothing of it is written."""

from __future__ import annotations

import uuid

import pytest

from tests.chats.helpers import API, chat_doc, create, ids

NOT_UUID = "not-a-uuid"
HUGE = 2**70

# (method, path, json body, expected status); {id} is a live chat of the caller.
CASES = [
    ("POST", "/new", {"chat": "text"}, 422),
    ("POST", "/new", {}, 422),
    ("POST", "/new", {"chat": {"history": "flat"}}, 400),
    ("POST", "/new", {"chat": {"history": {"messages": {"m": "not an object"}}}}, 400),
    ("POST", "/new", {"chat": {"title": 5}}, 400),
    ("POST", "/new", {"chat": {"tags": [1]}}, 400),
    ("POST", "/new", {"chat": {}, "tags": ["x" * 300]}, 422),
    ("POST", "/new", {"chat": {}, "meta": {"tags": "abc"}}, 400),
    ("POST", "/new", {"chat": {"tags": "abc"}, "tags": ["x"]}, 400),
    ("POST", "/new", {"chat": {}, "folder_id": NOT_UUID}, 404),
    ("POST", "/new", {"chat": {}, "folder_id": str(uuid.uuid4())}, 404),
    ("POST", "/{id}", {"chat": []}, 422),
    ("POST", "/{id}", {"chat": {"history": {"messages": [1]}}}, 400),
    ("POST", "/{id}", {"chat": {"tags": "x"}}, 400),
    ("GET", f"/{NOT_UUID}", None, 404),
    ("GET", f"/{uuid.uuid4()}", None, 404),
    ("POST", f"/{NOT_UUID}/pin", None, 404),
    ("DELETE", f"/{NOT_UUID}", None, 404),
    ("GET", "/?page=0", None, 422),
    ("GET", "/?page=abc", None, 422),
    ("GET", f"/?page={HUGE}", None, 422),
    ("GET", "/search", None, 422),
    ("GET", "/search?text=" + "x" * 2000, None, 422),
    ("GET", "/archived?page=-1", None, 422),
    ("POST", "/tags", {"name": "x", "skip": -1}, 422),
    ("POST", "/tags", {"limit": 5}, 422),
    ("POST", "/{id}/tags", {"name": "None"}, 400),
    ("POST", "/{id}/tags", {"name": " "}, 400),
    ("POST", "/{id}/tags", {}, 422),
    ("POST", "/{id}/messages/m0", {"content": 5}, 422),
    ("POST", "/{id}/messages/m0/event", {"type": "x"}, 422),
    ("POST", "/{id}/messages/m0/event", {"type": "x", "data": [1]}, 422),
    ("POST", "/{id}/folder", {"folder_id": str(uuid.uuid4())}, 404),
    ("POST", "/{id}/clone", {"title": 5}, 422),
    ("POST", "/import", {"chats": [{"chat": {}, "created_at": -1}]}, 422),
    ("POST", "/import", {"chats": [{"chat": {}, "updated_at": HUGE}]}, 422),
    ("POST", "/import", {"chats": "x"}, 422),
    ("GET", "/share/nothing-shared", None, 404),
    ("POST", "/nothing-shared/clone/shared", None, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), CASES,
                         ids=[f"{m} {p[:40]} {str(b)[:40]}" for m, p, b, _ in CASES])
def test_bad_chat_input_is_a_4xx(client, people, method, path, body, status):
    owner = people.user
    cid = create(client, owner, "kept", "kept")["id"]
    before = client.get(f"{API}/{cid}", headers=owner.headers).json()
    r = client.request(method, API + path.format(id=cid), json=body, headers=owner.headers)
    assert r.status_code == status, r.text
    assert client.get(f"{API}/{cid}", headers=owner.headers).json() == before


def test_an_import_with_one_bad_chat_imports_nothing(client, fresh):
    alice = fresh()
    batch = {"chats": [{"chat": chat_doc("good")}, {"chat": {"history": "bad"}}]}
    assert client.post(f"{API}/import", json=batch, headers=alice.headers).status_code == 400
    assert ids(client.get(f"{API}/list", headers=alice.headers)) == []


def test_hostile_message_ids_and_tags_do_not_poison_the_read_model(client, fresh):
    alice = fresh()
    long_id = "m" * 5000
    doc = chat_doc("long ids", "x")
    doc["history"]["messages"][long_id] = {"id": long_id, "parentId": "m0", "role": "user",
                                           "content": "findme " * 20000}
    chat = client.post(f"{API}/new", json={"chat": {**doc, "tags": ["t" * 250]}},
                       headers=alice.headers)
    assert chat.status_code == 200
    # The projector kept going: the chat is listed, searchable, and later writes project too.
    assert ids(client.get(f"{API}/search", params={"text": "findme"}, headers=alice.headers)) \
        == [chat.json()["id"]]
    later = create(client, alice, "later")["id"]
    assert later in ids(client.get(f"{API}/", headers=alice.headers))


FOLDER_CASES = [
    ("POST", "/", {"name": ""}, 422),
    ("POST", "/", {"name": "x", "unknown": 1}, 422),
    ("POST", "/", {"name": "x" * 300}, 422),
    ("POST", "/", {"name": "x", "parent_id": str(uuid.uuid4())}, 404),
    ("POST", "/", {"name": "   "}, 400),
    ("POST", "/{folder}/update", {"name": ""}, 422),
    ("POST", "/{folder}/update/parent", {"parent_id": "{folder}"}, 400),
    ("POST", "/{folder}/update/expanded", {}, 422),
    ("GET", f"/{NOT_UUID}", None, 404),
    ("DELETE", f"/{uuid.uuid4()}", None, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), FOLDER_CASES,
                         ids=[f"{m} {p} {str(b)[:30]}" for m, p, b, _ in FOLDER_CASES])
def test_bad_folder_input_is_a_4xx(client, people, method, path, body, status):
    owner = people.user
    folder = client.post("/api/v1/folders/", json={"name": uuid.uuid4().hex},
                         headers=owner.headers).json()["id"]
    if isinstance(body, dict) and body.get("parent_id") == "{folder}":
        body = {"parent_id": folder}
    r = client.request(method, "/api/v1/folders" + path.format(folder=folder), json=body,
                       headers=owner.headers)
    assert r.status_code == status, r.text
