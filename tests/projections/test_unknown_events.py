"""Events a process cannot decode (issue #14): a newer deploy's event class, a corrupt event.

Each projector decides from the stored topic whether it handles an event; those that do not pass
over it undecoded and reach the head. One that handles it and cannot apply it stops alone and says
so in /ready, `chronicle status` and /metrics, while the others and the realtime feed go on.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from eventsourcing.persistence import StoredEvent

from domain.chat import Chat
from projections.realtime import EVENTS, replay_page
from projections.registry import PROJECTORS
from projections.runtime import read_state
from tests.operations.helpers import chronicle
from tests.projections.test_runtime import write_users
from tests.realtime.test_feed import Collected, save_chat, wait_running

NOTE = "domain.memo:Memo.Created"  # an aggregate this code does not have
CHAT_NEWER = "domain.chat:Chat.Frobnicated"  # a chat event this code does not have


def append_stored(container: Any, topic: str, like: Any, originator: Any = None,
                  version: int = 1, state: bytes | None = None) -> int:
    """Append a stored event as a newer deploy would: through the recorder, at the next
    position, with a real event's plain header and ciphertext (`like`) under `topic`."""
    stored = StoredEvent(originator_id=originator or uuid.uuid4(), originator_version=version,
                         topic=topic, state=state if state is not None else bytes(like.state))
    ids = container.store.app.recorder.insert_events([stored])
    return int(ids[-1]) if ids else container.store.head()


def last_stored(container: Any, topic_suffix: str) -> Any:
    rows = container.store.select(0, 100_000)
    return [n for n in rows if n.topic.endswith(topic_suffix)][-1]


def status_of(container: Any) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in container.host.status()}


def wait_failed(container: Any, name: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (status := status_of(container)[name])["failed_event"] is None:
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["status"] == "failed"
    return status


def wait_stored_failure(container: Any, name: str, timeout: float = 10) -> dict[str, Any]:
    """The state row, once the failure is recorded there (just after it is in memory)."""
    deadline = time.monotonic() + timeout
    while (row := read_state(container.read_db, name) or {}).get("status") != "failed":
        assert time.monotonic() < deadline, row
        time.sleep(0.05)
    return row


def wait_others(container: Any, failed: set[str], timeout: float = 30) -> None:
    head = container.store.head()
    others = [cls.name for cls in PROJECTORS if cls.name not in failed]
    assert container.host.wait(others, head, timeout), container.host.status()


def feed_delivers(collected: Collected, chat: Chat, last: int) -> None:
    got = [d for d in collected.wait_for(last) if d.event == EVENTS
           and d.data["chat_id"] == str(chat.id)]
    assert got[-1].data["position"] == last


def test_an_unknown_aggregate_is_skipped_by_every_projector_but_the_audit_log(
        container: Any, client: Any) -> None:
    wait_running(container)
    collected = Collected()
    container.realtime.attach(collected)
    write_users(container.store, 2, 1)
    save_chat(container, "u-1")
    position = append_stored(container, NOTE, last_stored(container, "Chat.TitleChanged"))
    users = write_users(container.store, 3, 0)
    chat, last = save_chat(container, "u-1")

    feed_delivers(collected, chat, last)  # the feed passes over it
    wait_others(container, {"audit_log"})  # every projector that does not handle it
    assert len(container.read_db.query("SELECT id FROM users")) == 2 + len(users)

    # The audit log indexes every event: it stops on this one, alone, and says where.
    audit = wait_failed(container, "audit_log")
    assert audit["failed_event"]["position"] == position
    assert audit["failed_event"]["topic"] == NOTE
    assert audit["position"] < position and f"position {position}" in audit["last_error"]
    assert "TopicError" in audit["failed_event"]["error"]
    stored = wait_stored_failure(container, "audit_log")
    assert json.loads(stored["failed_event"])["topic"] == NOTE

    r = client.get("/ready")
    assert r.status_code == 503
    assert [(f["projector"], f["event"]["position"]) for f in r.json()["failed"]] == [
        ("audit_log", position)]


def test_a_newer_chat_event_stops_the_chat_projectors_and_is_reported_everywhere(
        container: Any, client: Any, settings_env: dict[str, str]) -> None:
    wait_running(container)
    collected = Collected()
    container.realtime.attach(collected)
    chat, _ = save_chat(container, "u-2")
    like = last_stored(container, "Chat.TitleChanged")
    position = append_stored(container, CHAT_NEWER, like, chat.id, chat.version + 1)
    users = write_users(container.store, 2, 0)
    later, last = save_chat(container, "u-2")

    feed_delivers(collected, later, last)
    # Every projector that follows chat events may be missing a newer one: each stops on it.
    following_chats = {"chats", "audit_log", "open_replies", "usage"}
    wait_others(container, following_chats)
    assert len(container.read_db.query("SELECT id FROM users")) == len(users)
    for name in sorted(following_chats):
        failed = wait_failed(container, name)["failed_event"]
        assert failed == {**failed, "position": position, "topic": CHAT_NEWER,
                          "originator_id": str(chat.id),
                          "originator_version": chat.version + 1}
    assert status_of(container)["users"]["status"] == "running"

    r = client.get("/ready")
    assert r.status_code == 503
    assert sorted(f["projector"] for f in r.json()["failed"]) == sorted(following_chats)

    metrics = client.get("/metrics").text
    assert 'chronicle_projection_failed{projector="chats"} 1.0' in metrics
    assert 'chronicle_projection_failed{projector="users"} 0.0' in metrics
    assert (f'chronicle_projection_failed_event_position{{projector="chats",'
            f'topic="{CHAT_NEWER}"}} {float(position)}') in metrics
    assert 'chronicle_projection_lag_events{projector="chats"}' in metrics

    done = chronicle(settings_env, "status")
    assert done.returncode == 1, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["chats"]["status"] == "failed"
    assert rows["chats"]["failed_event"]["position"] == position
    assert CHAT_NEWER in rows["chats"]["last_error"]
    assert rows["users"]["status"] == "running"


def test_the_feed_passes_over_an_event_it_cannot_decode_once_and_counts_it(
        container: Any, caplog: Any) -> None:
    wait_running(container)
    collected = Collected()
    container.realtime.attach(collected)
    chat, _ = save_chat(container, "u-3")
    like = last_stored(container, "Chat.TitleChanged")
    state = bytearray(like.state)
    state[-1] ^= 0x01  # the ciphertext no longer authenticates
    with caplog.at_level(logging.WARNING, logger="chronicle.realtime"):
        position = append_stored(container, like.topic, like, chat.id, chat.version + 1,
                                 bytes(state))
        later, last = save_chat(container, "u-3")
        feed_delivers(collected, later, last)
    assert position not in {d.data.get("position") for d in collected.deliveries}
    warned = [r for r in caplog.records if "does not decode" in r.getMessage()]
    assert len(warned) == 1 and warned[0].position == position  # type: ignore[attr-defined]

    wait_others(container, {"chats", "audit_log"})
    assert wait_failed(container, "chats")["failed_event"]["position"] == position
    feed = status_of(container)["realtime"]
    assert feed["status"] == "running" and feed["skipped"] == 1
    assert feed["last_skipped"]["position"] == position
    assert "MapperDeserialisationError" in feed["last_skipped"]["error"]

    # A client resuming from before it gets the same as a live one: everything but that event.
    replayed, cursor = [], position - 1
    while True:
        page, after = replay_page(container.store, container.realtime.translator, "u-3", cursor)
        replayed += [p for p, _ in page]
        if after == cursor:
            break
        cursor = after
    assert position not in replayed and last in replayed


def test_topics_decide_what_each_projector_decodes(container: Any) -> None:
    claims = {cls.name: cls for cls in PROJECTORS}
    assert not claims["users"].claims("domain.chat:Chat.TitleChanged")
    assert not claims["users"].claims(NOTE) and not claims["chats"].claims(NOTE)
    assert claims["chats"].claims(CHAT_NEWER) and not claims["folders"].claims(CHAT_NEWER)
    assert claims["audit_log"].claims(NOTE)
    erased = "domain.erasure:Erasure.UserErased"  # row projectors split their pages at it
    assert {n for n, cls in claims.items() if cls.claims(erased)} == set(claims) - {
        "retrieval_index"}
    assert not container.realtime.translator.publishes(CHAT_NEWER)
    assert container.realtime.translator.publishes("domain.chat:Chat.TitleChanged")
    assert container.realtime.translator.publishes("domain.user:User.RoleChanged")  # revokes
    assert not container.realtime.translator.publishes("domain.user:User.Registered")


def test_a_projector_decodes_only_the_events_it_handles(settings_env: dict[str, str]) -> None:
    from interfaces.composition.bootstrap import bootstrap
    from tests.conftest import make_settings

    quiet = bootstrap(make_settings(settings_env), run_projectors=False)
    try:
        decoded: list[str] = []
        decode = quiet.store.decode

        def counting(notification: Any) -> Any:
            decoded.append(notification.topic)
            return decode(notification)

        quiet.store.decode = counting  # type: ignore[method-assign]
        save_chat(quiet, "u-4")
        write_users(quiet.store, 2, 1)
        quiet.host.start(["users"])
        assert quiet.host.wait(["users"], quiet.store.head(), 20)
        assert decoded and all(t.startswith("domain.user:User.") for t in decoded)
    finally:
        quiet.close()
