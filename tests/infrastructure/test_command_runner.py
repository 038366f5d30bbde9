"""Commands of one process on one contested aggregate take turns (real store, both backends)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from application.commands import CommandRunner, Outcome
from domain.chat import Chat


def _saved_chat(container: Any) -> Chat:
    chat = Chat.create(str(uuid.uuid4()), {"title": "start", "history": {"messages": {}}})
    container.store.save(chat)
    return chat


def _rename(container: Any, chat_id: uuid.UUID, title: str) -> Any:
    def decide() -> tuple[str, list[Any]]:
        chat = container.store.get(chat_id)
        chat.rename(title)
        return title, [chat]

    return decide


def test_a_first_attempt_queues_behind_a_retry_holding_the_aggregate(container: Any) -> None:
    runner: CommandRunner = container.runner
    chat = _saved_chat(container)
    head = container.store.head()
    done: list[Outcome[str]] = []
    with runner.locks.hold(chat.id):  # as a retry that lost a race holds it
        newcomer = threading.Thread(
            target=lambda: done.append(runner.run("t.rename", _rename(container, chat.id, "late"))))
        newcomer.start()
        newcomer.join(0.3)
        assert newcomer.is_alive() and container.store.head() == head  # waiting, not racing
    newcomer.join(5)
    assert done and done[0].position > head
    assert container.store.get(chat.id).title == "late"


def test_many_writers_on_one_aggregate_all_land_with_one_retry(container: Any) -> None:
    runner = CommandRunner(container.store, retries=2)
    chat = _saved_chat(container)
    head = container.store.head()

    def rename(i: int) -> int:
        return runner.run("t.rename", _rename(container, chat.id, f"t{i}")).position

    with ThreadPoolExecutor(16) as pool:
        positions = list(pool.map(rename, range(64)))
    assert len(set(positions)) == 64 and min(positions) > head
    assert container.store.get(chat.id).version == 65  # created + 64 renames, none lost
