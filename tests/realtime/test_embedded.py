"""The embedded default: one server process on SQLite, no Redis; the feed emits in-process."""

from __future__ import annotations

import httpx
import pycrdt
import pytest

from tests.realtime.conftest import Deployment
from tests.realtime.note_fixture import Note
from tests.realtime.processes import Person, chat_events, positions

pytestmark = pytest.mark.slow


def create(dep: Deployment, person: Person, title: str) -> str:
    r = httpx.post(f"{dep.apis[0].url}/api/v1/chats/new", json={"chat": {"title": title}},
                   headers=person.headers, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def rename(dep: Deployment, person: Person, chat_id: str, title: str) -> int:
    r = httpx.post(f"{dep.apis[0].url}/api/v1/chats/{chat_id}", json={"chat": {"title": title}},
                   headers=person.headers, timeout=10)
    assert r.status_code == 200, r.text
    return int(r.headers["X-Chronicle-Position"])


def titles(events: list[dict]) -> list[str]:
    return [d["data"]["data"] for d in events if d["data"]["type"] == "chat:title"]


def test_live_delivery_then_resume_from_the_last_position(embedded: Deployment) -> None:
    server = embedded.apis[0]
    alice, bob = embedded.person("Alice"), embedded.person("Bob")
    online, other = embedded.sock(server, {"token": alice.token}), embedded.sock(server, {"token": bob.token})
    chat = create(embedded, alice, "one")
    last = rename(embedded, alice, chat, "two")
    online.wait(lambda s: bool(positions(s)) and positions(s)[-1] >= last)
    assert titles(chat_events(online, chat)) == ["two"]
    seen = positions(online)[-1]
    online.close()

    for title in ("three", "four", "five"):  # while the client is away
        rename(embedded, alice, chat, title)
    back = embedded.sock(server, {"token": alice.token, "position": seen})
    last = rename(embedded, alice, chat, "six")
    back.wait(lambda s: bool(positions(s)) and positions(s)[-1] >= last)
    assert titles(chat_events(back)) == ["three", "four", "five", "six"]
    assert positions(back) == sorted(set(positions(back))) and positions(back)[0] > seen
    assert other.of("events") == []


def test_a_position_beyond_the_log_asks_for_a_resync(embedded: Deployment) -> None:
    alice = embedded.person("Alice")
    sock = embedded.sock(embedded.apis[0], {"token": alice.token, "position": 10**9})
    resync = sock.wait_count("chronicle:resync", 1)[0]
    assert 0 < resync["position"] < 10**9
    chat = create(embedded, alice, "after resync")
    sock.wait(lambda s: bool(chat_events(s, chat)))


def test_ydoc_late_joiner_and_awareness_in_process(embedded: Deployment) -> None:
    server = embedded.apis[0]
    alice, carol = embedded.person("Alice"), embedded.person("Carol")
    note = Note(alice.id, "Notes", readers=[carol.id], writers=[])
    embedded.container.store.save(note)
    doc_id = f"note_{note.id}"  # Open WebUI's alternate spelling names the same document
    writer, reader = embedded.sock(server, {"token": alice.token}), embedded.sock(server, {"token": carol.token})
    for sock in (writer, reader):
        sock.emit("ydoc:document:join", {"document_id": doc_id})
        sock.wait_count("ydoc:document:state", 1)
    doc = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    text += "draft"
    writer.emit("ydoc:document:update", {"document_id": doc_id, "update": list(doc.get_update())})
    assert reader.wait_count("ydoc:document:update", 1)[0]["document_id"] == f"note:{note.id}"
    reader.emit("ydoc:document:update", {"document_id": doc_id, "update": list(doc.get_update())})
    assert "no access" in reader.wait_count("error", 1)[0]["message"]  # a reader cannot write
    reader.emit("ydoc:awareness:update", {"document_id": doc_id, "update": [9]})
    assert writer.wait_count("ydoc:awareness:update", 1)[0]["user_id"] == carol.id

    late = embedded.sock(server, {"token": carol.token})
    late.emit("ydoc:document:join", {"document_id": f"note:{note.id}"})
    state = late.wait_count("ydoc:document:state", 1)[0]
    copy = pycrdt.Doc()
    copy.apply_update(bytes(state["state"]))
    assert str(copy.get("content", type=pycrdt.Text)) == "draft"


def test_heartbeat_and_usage_are_not_events(embedded: Deployment) -> None:
    alice = embedded.person("Alice")
    head = embedded.container.store.head()
    sock = embedded.sock(embedded.apis[0], {"token": alice.token})
    sock.emit("heartbeat", {})
    sock.emit("usage", {"model": "llama3"})
    sock.call("user-join", {"auth": {"token": alice.token}})
    assert embedded.container.store.head() == head
    assert sock.of("error") == []
