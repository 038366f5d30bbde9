"""The realtime feed in-process, on SQLite and on PostgreSQL: translation, replay, the runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from domain.chat import Chat
from projections.realtime import EVENTS, REVOKE, Delivery, replay_page
from projections.runtime import read_state


class Collected:
    """The feed's publisher port, collecting instead of sending (the transports have e2e tests)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.cond = threading.Condition()

    def publish(self, deliveries: Sequence[Delivery]) -> None:
        with self.cond:
            self.deliveries.extend(deliveries)
            self.cond.notify_all()

    def wait_for(self, position: int, timeout: float = 10) -> list[Delivery]:
        with self.cond:
            assert self.cond.wait_for(
                lambda: any(d.data.get("position", 0) >= position for d in self.deliveries), timeout)
            return list(self.deliveries)


def save_chat(container: Any, owner: str) -> tuple[Chat, int]:
    chat = Chat.create(owner, {"title": "t"})
    chat.rename("renamed")
    chat.upsert_message("m1", {"role": "user", "content": "hello"})
    chat.add_tag("Alpha")
    chat.add_tag("beta")
    chat.remove_tag("alpha")
    chat.record_message_event("m1", "status", {"description": "working"})
    chat.toggle_pinned()
    chat.delete()
    return chat, container.store.save(chat)


def test_feed_publishes_owner_payloads_in_log_order(container: Any) -> None:
    wait_running(container)
    collected = Collected()
    container.realtime.attach(collected)
    chat, last = save_chat(container, "u-1")
    got = [d for d in collected.wait_for(last) if d.event == EVENTS]
    assert {d.room for d in got} == {"user:u-1"}
    assert [d.data["data"]["type"] for d in got] == [
        "chat:list", "chat:title", "chat:message", "chat:list", "chat:tags", "chat:tags",
        "chat:tags", "status", "chat:message:update", "chat:list", "chat:list"]
    assert [d.data["data"]["data"] for d in got if d.data["data"]["type"] == "chat:tags"] == [
        ["alpha"], ["alpha", "beta"], ["beta"]]
    assert [d.data["data"]["data"]["action"] for d in got[-2:]] == ["pinned", "deleted"]
    assert all(d.data["chat_id"] == str(chat.id) for d in got)
    assert [d.data["position"] for d in got] == sorted({d.data["position"] for d in got})
    wait_running(container, position=last)  # stored after the publish (at-least-once)


def test_replay_reads_only_the_users_payloads(container: Any) -> None:
    start = container.store.head()
    save_chat(container, "u-2")
    _, last = save_chat(container, "u-3")
    cursor, found = start, []
    while True:
        page, cursor_next = replay_page(container.store, container.realtime.translator, "u-3",
                                        cursor, limit=4)
        found += page
        if cursor_next == cursor:
            break
        cursor = cursor_next
    assert cursor == last
    assert len(found) == 11 and {p["chat_id"] for _, p in found} == {found[0][1]["chat_id"]}
    assert [pos for pos, _ in found] == [p["position"] for _, p in found]


def test_role_changes_revoke_and_the_feed_restarts_at_the_head(container: Any, people: Any,
                                                                client: Any) -> None:
    wait_running(container)
    collected = Collected()
    container.realtime.attach(collected)
    r = client.post(f"/api/v1/users/{people.user.id}/update", json={"role": "pending"},
                    headers=people.admin.headers)
    position = int(r.headers["X-Chronicle-Position"])
    revokes = [d for d in collected.wait_for(position) if d.event == REVOKE]
    assert revokes[-1].room == f"user:{people.user.id}"
    assert container.host.rebuild("realtime") == 0  # a feed has nothing to rebuild
    assert read_state(container.read_db, "realtime")["position"] == container.store.head()


def wait_running(container: Any, position: int = 0, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (read_state(container.read_db, "realtime") or {}).get("position", -1) < position:
        assert time.monotonic() < deadline
        time.sleep(0.05)
