"""Collaborative editing of a note over Socket.IO, with real servers and python-socketio clients:
a burst of edits through `ydoc:document:update` becomes the note's saved content once, and the
rooms open as the note's grants say (the embedded default on SQLite; two API workers and a
projector on PostgreSQL + Redis)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pycrdt
import pytest

from tests.realtime.conftest import Deployment, cluster, embedded  # noqa: F401
from tests.realtime.processes import Person

API = "/api/v1/notes"


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def call(deployment: Deployment, who: Person, method: str, path: str, **kwargs: Any) -> Any:
    r = httpx.request(method, deployment.apis[-1].url + API + path, headers=who.headers,
                      timeout=30, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


def shared_note(deployment: Deployment, owner: Person, read: tuple[str, ...] = (),
                write: tuple[str, ...] = ()) -> str:
    note = call(deployment, owner, "POST", "/create",
                json={"title": "Shared", "data": {"content": {"md": "seed"}}})
    grants = [{"principal_type": "user", "principal_id": u, "permission": "read"}
              for u in (*read, *write)]
    grants += [{"principal_type": "user", "principal_id": u, "permission": "write"} for u in write]
    assert deployment.admin is not None
    call(deployment, deployment.admin, "POST", f"/{note['id']}/access/update",
         json={"access_grants": grants})
    return str(note["id"])


def saved_md(deployment: Deployment, who: Person, note_id: str) -> str:
    return str(call(deployment, who, "GET", f"/{note_id}")["data"]["content"]["md"])


def wait_md(deployment: Deployment, who: Person, note_id: str, expected: str,
            timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while saved_md(deployment, who, note_id) != expected:
        assert time.monotonic() < deadline, saved_md(deployment, who, note_id)
        time.sleep(0.1)


def test_a_burst_of_edits_is_saved_once(deployment: Deployment) -> None:
    alice, carol = deployment.person("Alice"), deployment.person("Carol")
    note_id = shared_note(deployment, alice, write=(carol.id,))
    doc_id = f"note:{note_id}"
    editor = deployment.sock(deployment.apis[0], {"token": alice.token})
    peer = deployment.sock(deployment.apis[-1], {"token": carol.token})
    for sock in (editor, peer):
        sock.emit("ydoc:document:join", {"document_id": doc_id})
    state = editor.wait_count("ydoc:document:state", 1)[0]
    assert state["content"] == {"md": "seed"}  # an empty document is seeded from the note
    peer.wait_count("ydoc:document:state", 1)

    doc = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    words = [f"word{i} " for i in range(20)]
    typed = ""
    for word in words:
        before = doc.get_state()
        text += word
        typed += word
        editor.emit("ydoc:document:update", {
            "document_id": doc_id, "update": list(doc.get_update(before)),
            "data": {"content": {"md": typed, "html": f"<p>{typed}</p>"}}})
    peer.wait_count("ydoc:document:update", len(words))
    wait_md(deployment, carol, note_id, typed)
    time.sleep(1.5)  # longer than the pause that ends a burst: nothing more is saved
    note = deployment.container.store.get(uuid.UUID(note_id))
    assert note.version == 3, note.version  # created, shared, one save for the whole burst
    assert editor.of("error") == [] and peer.of("error") == []

    # The app's own snapshot message carries no Yjs update; it is saved all the same.
    peer.emit("ydoc:document:update", {"document_id": doc_id,
                                       "data": {"content": {"md": "carol's words"}}})
    wait_md(deployment, alice, note_id, "carol's words")


def test_rooms_open_as_the_grants_say(deployment: Deployment) -> None:
    alice, reader, stranger = (deployment.person(n) for n in ("Alice", "Reader", "Stranger"))
    note_id = shared_note(deployment, alice, read=(reader.id,))
    doc_id = f"note:{note_id}"
    api = deployment.apis[0]
    for who in (alice, reader):
        sock = deployment.sock(api, {"token": who.token})
        sock.emit("join-note", {"note_id": note_id, "auth": {"token": who.token}})
        sock.emit("ydoc:document:join", {"document_id": doc_id})
        sock.wait_count("ydoc:document:state", 1)
        assert sock.of("error") == []
    # a reader may look but not save
    looker = deployment.sock(api, {"token": reader.token})
    looker.emit("ydoc:document:join", {"document_id": doc_id})
    looker.wait_count("ydoc:document:state", 1)
    looker.emit("ydoc:document:update", {"document_id": doc_id,
                                         "data": {"content": {"md": "defaced"}}})
    assert "no access" in looker.wait_count("error", 1)[0]["message"]
    # a stranger, a chat's id and a made-up id open nothing
    outsider = deployment.sock(api, {"token": stranger.token})
    outsider.emit("join-note", {"note_id": note_id, "auth": {"token": stranger.token}})
    outsider.emit("ydoc:document:join", {"document_id": doc_id})
    outsider.emit("ydoc:document:join", {"document_id": f"note:{uuid.uuid4()}"})
    errors = outsider.wait_count("error", 3, timeout=20)
    assert all("no access" in e["message"] for e in errors)
    assert outsider.of("ydoc:document:state") == []
    # another aggregate's id is no note, even to its owner (it opened as one before notes)
    r = httpx.post(api.url + "/api/v1/chats/new", headers=alice.headers, timeout=30,
                   json={"chat": {"title": "not a note", "messages": []}})
    assert r.status_code == 200, r.text
    owner = deployment.sock(api, {"token": alice.token})
    owner.emit("ydoc:document:join", {"document_id": f"note:{r.json()['id']}"})
    assert "no access" in owner.wait_count("error", 1, timeout=20)[0]["message"]
    time.sleep(1.0)
    assert saved_md(deployment, alice, note_id) == "seed"


def test_the_first_editor_seeds_the_document(deployment: Deployment) -> None:
    alice = deployment.person("Alice")
    note_id = shared_note(deployment, alice)
    doc_id = f"note:{note_id}"
    sock = deployment.sock(deployment.apis[0], {"token": alice.token})
    sock.emit("ydoc:document:join", {"document_id": doc_id})
    sock.wait_count("ydoc:document:state", 1)
    seed = pycrdt.Doc()
    seed.get("content", type=pycrdt.Text).insert(0, "seed")
    update = list(seed.get_update())
    assert sock.call("ydoc:document:update", {"document_id": doc_id, "update": update,
                                              "initialize": True}) == update
    late = pycrdt.Doc()
    late.get("content", type=pycrdt.Text).insert(0, "other seed")
    state = sock.call("ydoc:document:update", {"document_id": doc_id,
                                               "update": list(late.get_update()),
                                               "initialize": True})
    copy = pycrdt.Doc()
    copy.apply_update(bytes(state))
    assert str(copy.get("content", type=pycrdt.Text)) == "seed"  # the first seed wins


def test_rest_edits_reach_whoever_joined_the_note(deployment: Deployment) -> None:
    alice, reader, stranger = (deployment.person(n) for n in ("Alice", "Reader", "Stranger"))
    note_id = shared_note(deployment, alice, read=(reader.id,))
    watcher = deployment.sock(deployment.apis[0], {"token": reader.token})
    outsider = deployment.sock(deployment.apis[0], {"token": stranger.token})
    watcher.call("join-note", {"note_id": note_id, "auth": {"token": reader.token}})
    outsider.call("join-note", {"note_id": note_id, "auth": {"token": stranger.token}})
    assert watcher.of("error") == [] and len(outsider.of("error")) == 1
    call(deployment, alice, "POST", f"/{note_id}/update",
         json={"title": "Renamed", "data": {"files": [{"id": "f1"}]}})
    event = watcher.wait_count("events:note", 1)[0]
    assert (event["id"], event["title"], event["data"]) == (note_id, "Renamed",
                                                            {"files": [{"id": "f1"}]})
    assert event["updated_at"] == call(deployment, alice, "GET", f"/{note_id}")["updated_at"]
    time.sleep(0.5)
    assert outsider.of("events:note") == []


def test_a_revoked_reader_leaves_the_rooms(deployment: Deployment) -> None:
    """Open WebUI makes users whose access was revoked leave the note's rooms: they receive no
    more edits of a document they may no longer read."""
    alice, keeper, revoked = (deployment.person(n) for n in ("Alice", "Keeper", "Revoked"))
    note_id = shared_note(deployment, alice, read=(keeper.id, revoked.id))
    doc_id = f"note:{note_id}"
    editor = deployment.sock(deployment.apis[0], {"token": alice.token})
    editor.emit("ydoc:document:join", {"document_id": doc_id})
    editor.wait_count("ydoc:document:state", 1)
    watchers = {}
    for who in (keeper, revoked):
        sock = deployment.sock(deployment.apis[-1], {"token": who.token})
        sock.call("join-note", {"note_id": note_id, "auth": {"token": who.token}})
        sock.emit("ydoc:document:join", {"document_id": doc_id})
        sock.wait_count("ydoc:document:state", 1)
        watchers[who.name] = sock
    doc = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)

    def edit(word: str) -> None:
        before = doc.get_state()
        text.insert(len(text), word)
        editor.emit("ydoc:document:update", {"document_id": doc_id,
                                             "update": list(doc.get_update(before))})

    edit("before ")
    for sock in watchers.values():
        sock.wait_count("ydoc:document:update", 1)
    assert deployment.admin is not None
    grants = [{"principal_type": "user", "principal_id": keeper.id, "permission": "read"}]
    call(deployment, deployment.admin, "POST", f"/{note_id}/access/update",
         json={"access_grants": grants})
    deadline = time.monotonic() + 15
    sent = 1
    while True:  # the feed delivers the change a moment later: edit until only one may see
        edit(f"w{sent} ")
        sent += 1
        watchers["Keeper"].wait_count("ydoc:document:update", sent)
        time.sleep(0.2)
        if len(watchers["Revoked"].of("ydoc:document:update")) < sent:
            break
        assert time.monotonic() < deadline, "the revoked reader still gets the edits"
    seen = len(watchers["Revoked"].of("ydoc:document:update"))
    for _ in range(3):
        edit("more ")
        sent += 1
    watchers["Keeper"].wait_count("ydoc:document:update", sent)
    time.sleep(0.5)
    assert len(watchers["Revoked"].of("ydoc:document:update")) == seen
    call(deployment, alice, "POST", f"/{note_id}/update", json={"title": "After"})
    assert watchers["Keeper"].wait_count("events:note", 1)[0]["title"] == "After"
    time.sleep(0.5)
    assert watchers["Revoked"].of("events:note") == []
