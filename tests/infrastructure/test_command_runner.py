"""Commands of one process on one contested aggregate take turns (real store, both backends)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from application.commands import CommandRunner, Outcome, forbid_blocking
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


# -- commands on an event loop (run_async) ----------------------------------------------------

def _tracked_rename(container: Any, chat_id: uuid.UUID, title: str,
                    threads: list[int]) -> Any:
    def decide() -> tuple[str, list[Any]]:
        threads.append(threading.get_ident())
        chat = container.store.get(chat_id)
        chat.rename(title)
        return title, [chat]

    return decide


def _on_a_loop(container: Any, decide: Any) -> tuple[Outcome[Any], int]:
    """The command's outcome under `run_async`, and the loop's thread."""
    async def main() -> tuple[Outcome[Any], int]:
        return await container.runner.run_async("t.command", decide), threading.get_ident()

    return asyncio.run(main())


def test_a_cached_aggregate_is_decided_and_committed_on_the_loop(container: Any) -> None:
    chat = _saved_chat(container)  # saving it put it in the command cache
    threads: list[int] = []
    outcome, loop_thread = _on_a_loop(container,
                                      _tracked_rename(container, chat.id, "inline", threads))
    assert threads == [loop_thread]  # one attempt, on the loop's own thread
    assert outcome.position == container.store.head()
    assert container.store.get(chat.id).title == "inline"


def test_a_command_that_would_wait_on_io_moves_to_a_thread(container: Any) -> None:
    chat = _saved_chat(container)
    container.store.command_cache.clear()  # its load now needs the event store
    threads: list[int] = []
    outcome, loop_thread = _on_a_loop(container,
                                      _tracked_rename(container, chat.id, "moved", threads))
    assert threads[0] == loop_thread and threads[1:] and loop_thread not in threads[1:]
    assert outcome.position == container.store.head()
    assert container.store.get(chat.id).title == "moved"


def test_read_model_queries_never_run_on_the_loop(container: Any) -> None:
    chat = _saved_chat(container)
    seen: list[tuple[int, int]] = []

    def decide() -> tuple[int, list[Any]]:
        count = container.read_db.query("SELECT 1 AS one")[0]["one"]
        seen.append((threading.get_ident(), count))
        target = container.store.get(chat.id)
        target.rename("after a query")
        return count, [target]

    outcome, loop_thread = _on_a_loop(container, decide)
    assert outcome.value == 1 and seen
    assert all(t != loop_thread for t, _ in seen)  # the query was refused on the loop


def test_concurrent_commands_on_a_loop_share_commits(container: Any) -> None:
    chats = [_saved_chat(container) for _ in range(32)]
    batches: list[int] = []
    container.store.app.committer.on_batch = lambda n, e, t: batches.append(n)
    head = container.store.head()

    async def main() -> list[int]:
        renames = [container.runner.run_async("t.rename", _rename(container, c.id, f"n{i}"))
                   for i, c in enumerate(chats)]
        return [o.position for o in await asyncio.gather(*renames)]

    positions = asyncio.run(main())
    assert len(set(positions)) == 32 and min(positions) > head
    assert max(batches) > 1  # one loop's commands were committed together
    assert [container.store.get(c.id).title for c in chats] == [f"n{i}" for i in range(32)]


def test_concurrent_commands_on_a_loop_on_one_aggregate_all_land(container: Any) -> None:
    chat = _saved_chat(container)
    head = container.store.head()

    async def main() -> list[int]:
        renames = [container.runner.run_async("t.rename", _rename(container, chat.id, f"c{i}"))
                   for i in range(48)]
        return [o.position for o in await asyncio.gather(*renames)]

    positions = asyncio.run(main())
    assert len(set(positions)) == 48 and min(positions) > head
    assert container.store.get(chat.id).version == 49  # created + 48 renames, none lost


def test_a_snapshot_after_a_loop_commit_may_wait_on_io_and_never_reruns_it(container: Any
                                                                            ) -> None:
    chat = _saved_chat(container)
    app = container.store.app
    take = app._snapshot
    waited: list[bool] = []

    def snapshot(batch: Any) -> None:  # as its key or log reads would, when not cached
        forbid_blocking()
        waited.append(True)
        take(batch)

    def decide() -> tuple[None, list[Any]]:
        target = container.store.get(chat.id)
        for n in range(120):  # versions 2..121: the snapshot interval (100) is crossed
            target.rename(f"r{n}")
        return None, [target]

    app._snapshot = snapshot
    head = container.store.head()
    asyncio.run(container.runner.run_async("t.many", decide))
    del app._snapshot
    assert waited == [True] and container.store.head() == head + 120  # written once
    loaded = container.store.get(chat.id)
    assert loaded.version == 121 and loaded.title == "r119"
    snapshots = list(app.snapshots.get(chat.id, desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version == 100
