"""The production shape: two API processes, one `chronicle projector`, PostgreSQL and Redis.

Sockets and writers sit on different processes on purpose: whatever reaches a socket went through
the log, the projector and Redis.
"""

from __future__ import annotations

import threading
import time

import httpx
import pycrdt
import pytest

from tests.realtime.conftest import Deployment
from tests.realtime.note_fixture import Note
from tests.realtime.processes import Person, Proc, chat_events, positions

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def new_chat(api: Proc, person: Person, title: str = "Chat") -> str:
    r = httpx.post(f"{api.url}/api/v1/chats/new", json={"chat": {"title": title}},
                   headers=person.headers, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def post(api: Proc, person: Person, path: str, body: dict) -> int:
    """A REST command; returns the log position it produced."""
    r = httpx.post(f"{api.url}/api/v1/chats/{path}", json=body, headers=person.headers, timeout=10)
    assert r.status_code == 200, r.text
    return int(r.headers.get("X-Chronicle-Position", 0))


def rename(api: Proc, person: Person, chat_id: str, title: str) -> int:
    return post(api, person, chat_id, {"chat": {"title": title}})


def add_members(dep: Deployment, channel_id: str, *user_ids: str) -> None:
    """Rows the channels read model will provide (`channel_members`)."""
    with dep.container.read_db.transaction() as tx:
        for user_id in user_ids:
            tx.execute("INSERT INTO channel_members VALUES (?, ?)", (channel_id, user_id))


def text_update(doc: pycrdt.Doc, text: str) -> list[int]:
    before = doc.get_state()
    doc.get("content", type=pycrdt.Text).insert(len(str(doc.get("content", type=pycrdt.Text))), text)
    return list(doc.get_update(before))


def test_rest_change_on_worker_a_reaches_the_users_sockets_on_both_workers(cluster: Deployment) -> None:
    a, b = cluster.apis
    alice = cluster.person("Alice")
    phone, laptop = cluster.sock(a, {"token": alice.token}), cluster.sock(b, {"token": alice.token})
    chat = new_chat(a, alice, "first")  # over REST, handled by worker A
    position = rename(a, alice, chat, "second")
    for sock in (phone, laptop):
        sock.wait(lambda s: any(d["position"] == position for d in s.of("events")))
        kinds = [d["data"]["type"] for d in chat_events(sock, chat)]
        assert kinds == ["chat:list", "chat:title"]
        assert chat_events(sock)[-1]["data"]["data"] == "second"


def test_message_events_and_tags_reach_the_owner(cluster: Deployment) -> None:
    a, b = cluster.apis
    alice = cluster.person("Alice")
    sock = cluster.sock(b, {"token": alice.token})
    chat = new_chat(a, alice)
    post(a, alice, f"{chat}/messages/m1", {"content": "hi"})
    post(a, alice, f"{chat}/messages/m1/event",
         {"type": "status", "data": {"description": "searching", "done": False}})
    last = post(a, alice, f"{chat}/tags", {"name": "Work"})
    sock.wait(lambda s: bool(positions(s)) and positions(s)[-1] >= last)
    by_type = {d["data"]["type"]: d for d in chat_events(sock, chat)}
    assert by_type["chat:message"]["message_id"] == "m1"
    assert by_type["chat:message"]["data"]["data"]["content"] == "hi"
    assert by_type["status"]["data"]["data"] == {"description": "searching", "done": False}
    assert by_type["chat:tags"]["data"]["data"] == ["work"]
    assert positions(sock) == sorted(set(positions(sock)))


def test_isolation_between_users_and_channels(cluster: Deployment) -> None:
    a, b = cluster.apis
    alice, bob, carol = (cluster.person(n) for n in ("Alice", "Bob", "Carol"))
    add_members(cluster, "team", alice.id, carol.id)
    s_alice = cluster.sock(a, {"token": alice.token})
    s_carol, s_bob = cluster.sock(b, {"token": carol.token}), cluster.sock(b, {"token": bob.token})
    for sock, person in ((s_alice, alice), (s_carol, carol), (s_bob, bob)):
        sock.call("join-channels", {"auth": {"token": person.token}})
    chat = new_chat(b, alice, "secret")
    s_alice.emit("events:channel", {"channel_id": "team", "data": {"type": "typing", "typing": True}})
    s_bob.emit("events:channel", {"channel_id": "team", "data": {"type": "typing", "typing": True}})
    s_alice.wait(lambda s: bool(chat_events(s, chat)))
    s_carol.wait_count("events:channel", 1)
    s_bob.wait_count("error", 1)
    time.sleep(0.5)  # anything misrouted would have arrived by now
    assert s_bob.of("events") == [] and s_bob.of("events:channel") == []
    assert s_carol.of("events") == []
    assert [e["user"]["id"] for e in s_carol.of("events:channel")] == [alice.id]
    assert "not a member" in s_bob.of("error")[0]["message"]


def test_unauthenticated_sockets_receive_nothing(cluster: Deployment) -> None:
    a, b = cluster.apis
    alice = cluster.person("Alice")
    pending = cluster.person("Pat")
    r = httpx.post(f"{a.url}/api/v1/users/{pending.id}/update", json={"role": "pending"},
                   headers=cluster.admin.headers, timeout=10)
    assert r.status_code == 200, r.text
    anonymous = cluster.sock(b)
    forged = cluster.sock(b, {"token": alice.token[:-4] + "AAAA"})
    waiting = cluster.sock(a, {"token": pending.token})
    assert anonymous.call("user-join", {"auth": {"token": "nope"}}) is None
    assert waiting.call("user-join", {"auth": {"token": pending.token}}) is None
    anonymous.emit("ydoc:document:join", {"document_id": "note:x"})
    anonymous.wait_count("error", 1)
    new_chat(a, alice)
    time.sleep(1.0)
    for sock in (anonymous, forged, waiting):
        assert sock.of("events") == []


def test_role_change_over_rest_disconnects_the_users_sockets_everywhere(cluster: Deployment) -> None:
    a, b = cluster.apis
    dave = cluster.person("Dave")
    on_a, on_b = cluster.sock(a, {"token": dave.token}), cluster.sock(b, {"token": dave.token})
    r = httpx.post(f"{a.url}/api/v1/users/{dave.id}/update", json={"role": "pending"},
                   headers=cluster.admin.headers, timeout=10)
    assert r.status_code == 200, r.text
    assert on_a.disconnected.wait(10) and on_b.disconnected.wait(10)


def test_typing_relay_across_workers(cluster: Deployment) -> None:
    a, b = cluster.apis
    alice, carol = cluster.person("Alice"), cluster.person("Carol")
    add_members(cluster, "room-2", alice.id, carol.id)
    s_alice, s_carol = cluster.sock(a, {"token": alice.token}), cluster.sock(b, {"token": carol.token})
    assert s_carol.call("user-join", {"auth": {"token": carol.token}}) == {"id": carol.id,
                                                                            "name": "Carol"}
    s_alice.call("join-channels", {"auth": {"token": alice.token}})
    s_alice.emit("events:channel", {"channel_id": "room-2", "message_id": None,
                                    "data": {"type": "typing", "data": {"typing": True}}})
    relayed = s_carol.wait_count("events:channel", 1)[0]
    assert relayed["channel_id"] == "room-2"
    assert relayed["data"] == {"type": "typing", "data": {"typing": True}}
    assert relayed["user"] == {"id": alice.id, "name": "Alice", "role": "user"}
    assert s_alice.wait_count("events:channel", 1)[0]["user"]["id"] == alice.id


def test_ydoc_updates_broadcast_and_late_joiner_gets_state(cluster: Deployment) -> None:
    a, b = cluster.apis
    alice, carol, bob = (cluster.person(n) for n in ("Alice", "Carol", "Bob"))
    note = Note(alice.id, "Plan", readers=[], writers=[carol.id])
    cluster.container.store.save(note)
    doc_id = f"note:{note.id}"
    s_alice, s_carol = cluster.sock(a, {"token": alice.token}), cluster.sock(b, {"token": carol.token})
    for sock in (s_alice, s_carol):
        sock.emit("ydoc:document:join", {"document_id": doc_id, "user_color": "#123456"})
        sock.wait_count("ydoc:document:state", 1)
    editor = pycrdt.Doc()
    for word in ("Hello", " shared", " world"):
        s_alice.emit("ydoc:document:update", {"document_id": doc_id, "update": text_update(editor, word)})
    s_alice.emit("ydoc:awareness:update", {"document_id": doc_id, "update": [1, 2, 3]})
    updates = s_carol.wait_count("ydoc:document:update", 3)
    assert s_carol.wait_count("ydoc:awareness:update", 1)[0]["update"] == [1, 2, 3]
    mirror = pycrdt.Doc()
    for u in updates:
        mirror.apply_update(bytes(u["update"]))
    assert str(mirror.get("content", type=pycrdt.Text)) == "Hello shared world"
    assert s_alice.of("ydoc:document:update") == []  # not echoed to the sender

    late = cluster.sock(b, {"token": alice.token})
    late.emit("ydoc:document:join", {"document_id": doc_id})
    state = late.wait_count("ydoc:document:state", 1)[0]
    joined = pycrdt.Doc()
    joined.apply_update(bytes(state["state"]))
    assert str(joined.get("content", type=pycrdt.Text)) == "Hello shared world"

    intruder = cluster.sock(a, {"token": bob.token})
    intruder.emit("ydoc:document:join", {"document_id": doc_id})
    intruder.emit("ydoc:document:update", {"document_id": doc_id, "update": text_update(editor, "!")})
    intruder.wait_count("error", 2)
    assert intruder.of("ydoc:document:state") == []


BAD_PAYLOADS = [
    ("user-join", "not an object"),
    ("user-join", {"auth": "token"}),
    ("usage", {"model": 42}),
    ("usage", None),
    ("events:channel", {"channel_id": "x"}),
    ("events:channel", {"channel_id": 7, "data": {"type": "typing"}}),
    ("ydoc:document:join", {}),
    ("ydoc:document:join", {"document_id": ["note:x"]}),
    ("ydoc:document:update", {"document_id": "note:x", "update": "abc"}),
    ("ydoc:awareness:update", {"document_id": "note:x"}),
    ("join-note", {"note_id": None}),
]


def test_bad_payloads_are_answered_without_dropping_anything(cluster: Deployment) -> None:
    a, b = cluster.apis
    alice = cluster.person("Alice")
    add_members(cluster, "big", alice.id)
    note = Note(alice.id, "N", readers=[], writers=[])
    cluster.container.store.save(note)
    doc_id = f"note:{note.id}"
    sock = cluster.sock(a, {"token": alice.token, "position": "yesterday"})
    sock.wait_count("error", 1)  # the bad position is refused; the socket still gets live events
    sock.call("join-channels", {"auth": {"token": alice.token}})
    sock.emit("ydoc:document:join", {"document_id": doc_id})
    sock.wait_count("ydoc:document:state", 1)
    for event, data in BAD_PAYLOADS:
        sock.emit(event, data)
    huge = [7] * (3 * 1024 * 1024 // 2)  # a 1.5 MiB update: ~4.5 MB on the wire
    sock.emit("ydoc:document:update", {"document_id": doc_id, "update": huge})
    sock.emit("ydoc:document:update", {"document_id": doc_id, "update": [1, 2, 3]})  # not Yjs
    sock.emit("events:channel", {"channel_id": "big", "data": {"type": "typing", "pad": "x" * 10**6}})
    expected = 1 + len(BAD_PAYLOADS) - 1 + 3  # `user-join` with a bad token just answers None
    sock.wait_count("error", expected, timeout=20)
    chat = new_chat(b, alice, "still here")
    sock.wait(lambda s: bool(chat_events(s, chat)))
    assert len(sock.of("error")) == expected
    assert {e["event"] for e in sock.of("error")} == {
        "connect", "user-join", "usage", "events:channel", "ydoc:document:join",
        "ydoc:document:update", "ydoc:awareness:update", "join-note"}
    assert sock.of("events:channel") == []
    assert sock.client.connected
    assert sock.call("user-join", {"auth": {"token": alice.token}})["id"] == alice.id
    for api_proc in (a, b):
        assert httpx.get(api_proc.url + "/health", timeout=5).status_code == 200


def test_a_projector_restart_neither_loses_nor_repeats_events(cluster: Deployment) -> None:
    """The feed publishes at least once; the gate hands each position to a socket once."""
    a, b = cluster.apis
    feed_process = cluster.others[0]
    alice = cluster.person("Alice")
    chat = new_chat(a, alice, "r-0000")
    sock = cluster.sock(b, {"token": alice.token, "position": 0})
    titles = [f"r-{i:04d}" for i in range(1, 61)]
    writer = threading.Thread(target=_rename_all, args=(a, alice, chat, titles), daemon=True)
    writer.start()
    sock.wait(lambda s: len(chat_events(s, chat)) > 10, timeout=20)
    feed_process.kill()
    feed_process.start()
    writer.join(60)
    sock.wait(lambda s: any(d["data"]["data"] == titles[-1] for d in chat_events(s)), timeout=40)
    got = [d["data"]["data"] for d in chat_events(sock, chat) if d["data"]["type"] == "chat:title"]
    assert got == titles
    assert positions(sock) == sorted(set(positions(sock)))


def test_resume_after_the_worker_dies_while_events_keep_flowing(cluster: Deployment) -> None:
    """(Last: it kills worker B.) Kill the socket's worker mid-stream; reconnect to the other with the last position."""
    a, b = cluster.apis
    alice = cluster.person("Alice")
    chat = new_chat(a, alice, "t-0000")
    first = cluster.sock(b, {"token": alice.token, "position": 0})
    first.wait(lambda s: bool(chat_events(s, chat)))
    titles = [f"t-{i:04d}" for i in range(1, 81)]
    writer = threading.Thread(target=_rename_all, args=(a, alice, chat, titles), daemon=True)
    writer.start()
    first.wait(lambda s: len(chat_events(s)) > 15, timeout=20)
    b.kill()
    assert first.disconnected.wait(10)
    seen = chat_events(first)
    second = cluster.sock(a, {"token": alice.token, "position": seen[-1]["position"]})
    writer.join(60)
    second.wait(lambda s: any(d["data"]["data"] == titles[-1] for d in chat_events(s)), timeout=30)
    events = seen + chat_events(second)
    got = [d["data"]["data"] for d in events if d["data"]["type"] == "chat:title"]
    assert got == titles, "every rename exactly once, in order"
    assert [d["position"] for d in events] == sorted({d["position"] for d in events})


def _rename_all(api: Proc, person: Person, chat_id: str, titles: list[str]) -> None:
    for title in titles:
        rename(api, person, chat_id, title)
