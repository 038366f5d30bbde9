"""Group commit on both backends: batches form, one command's conflict fails that command alone."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from application.errors import ConcurrencyConflict
from domain.user import User
from infrastructure.group_commit import GroupCommitter
from tests.conftest import built


@pytest.fixture
def store(settings_env):
    with built(settings_env, run_projectors=False) as container:
        yield container.store


@contextmanager
def batch_sizes(store) -> Iterator[list[int]]:
    """The number of commands in each batch committed inside the block."""
    batches: list[int] = []
    committer = store.app.committer
    original = committer.on_batch
    committer.on_batch = lambda commands, events, seconds: batches.append(commands)
    try:
        yield batches
    finally:
        committer.on_batch = original


def run_threads(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def new_user(name: str = "u") -> User:
    return User(user_id=str(uuid.uuid4()), email=f"{uuid.uuid4().hex[:8]}@x.org", name=name,
                role="user", password_hash="-", profile_image_url="", stamp="s")


def test_concurrent_commands_share_commits_and_conflicts_stay_local(store):
    users = [new_user() for _ in range(8)]
    store.save(*users)
    stale = store.get(users[0].id)  # loaded now, saved after a newer version exists
    fresh = store.get(users[0].id)
    fresh.update_profile(name="fresh")
    store.save(fresh)

    results: dict[str, object] = {}
    barrier = threading.Barrier(17)

    def good(i: int) -> None:
        user = store.get(users[1 + i % 7].id) if i < 7 else new_user(f"n{i}")
        user.update_profile(name=f"name-{i}")
        barrier.wait()
        try:
            results[f"good-{i}"] = store.save(user)
        except ConcurrencyConflict as e:  # two threads may touch the same user: that is a race
            results[f"good-{i}"] = e

    def bad() -> None:
        stale.update_profile(name="stale")
        barrier.wait()
        try:
            results["bad"] = store.save(stale)
        except ConcurrencyConflict as e:
            results["bad"] = e

    threads = [threading.Thread(target=good, args=(i,)) for i in range(16)]
    threads.append(threading.Thread(target=bad))
    with batch_sizes(store) as batches:
        run_threads(threads)

    assert isinstance(results["bad"], ConcurrencyConflict)
    fresh_names = [k for k in range(7, 16)]
    for i in fresh_names:  # new aggregates never conflict: all must have landed
        landed = results[f"good-{i}"]
        assert isinstance(landed, int) and landed > 0
    assert store.get(users[0].id).name == "fresh"  # the stale writer lost nothing and won nothing
    assert max(batches) > 1, f"commands that arrived together were not committed together: {batches}"


def test_positions_are_returned_in_commit_order(store):
    first = store.save(new_user())
    second = store.save(new_user(), new_user())
    assert 0 < first < second
    assert [n.id for n in store.select(0, 10)][-3:][0] == first


def test_busy_writers_are_gathered_into_large_batches(store):
    """16 threads saving in a loop: the committer waits for about half of them, so batches are
    not the two or three commands that happen to be queued when the previous one returns."""
    users = [new_user() for _ in range(16)]
    store.save(*users)

    def writer(user: User) -> None:
        for n in range(15):
            user.update_settings({"n": n})
            store.save(user)

    with batch_sizes(store) as batches:
        run_threads([threading.Thread(target=writer, args=(u,)) for u in users])
    assert sum(batches) == 16 * 15
    assert sum(batches) / len(batches) >= 9, batches  # about 7 without the wait


def test_commands_queued_behind_a_close_are_refused_not_left_waiting(store):
    committer = GroupCommitter(store.app.recorder)
    committer._queue.put(None)  # the committer stops, as close() stops it ...
    committer._thread.join(5)

    def event() -> StoredEvent:
        return StoredEvent(originator_id=uuid.uuid4(), originator_version=1, topic="t:T",
                           state=b"{}")

    outcomes: list[BaseException] = []

    def blocked_thread() -> None:
        try:
            committer.commit([event()], timeout=30)
        except BaseException as error:  # noqa: BLE001 - what the command saw is the result
            outcomes.append(error)

    async def main() -> None:
        waiting = asyncio.ensure_future(committer.commit_async([event()]))
        thread = threading.Thread(target=blocked_thread)
        thread.start()
        await asyncio.sleep(0.1)  # ... and these two commands queued behind it meanwhile
        started = time.monotonic()
        await asyncio.to_thread(committer.close)
        with pytest.raises(RuntimeError, match="closed"):
            await waiting
        await asyncio.to_thread(thread.join, 5)
        assert time.monotonic() - started < 5

    asyncio.run(main())
    assert len(outcomes) == 1 and "closed" in str(outcomes[0])


def test_a_command_clashing_with_its_batch_fails_alone_before_the_insert(store):
    committer = GroupCommitter(store.app.recorder)
    committer._queue.put(None)  # stop its thread: this test runs one round of it by hand
    committer._thread.join(5)
    batches: list[int] = []
    committer.on_batch = lambda commands, events, seconds: batches.append(commands)
    contested = uuid.uuid4()

    def event(originator: uuid.UUID) -> StoredEvent:
        return StoredEvent(originator_id=originator, originator_version=1, topic="t:T",
                           state=b"{}")

    def one_round() -> None:
        committer._queue.put(None)
        committer._run()  # drains all that is queued into one batch, writes it, stops

    async def main() -> list[Any]:
        first = asyncio.ensure_future(committer.commit_async([event(contested)]))
        others = [asyncio.ensure_future(committer.commit_async([event(uuid.uuid4())]))
                  for _ in range(8)]
        late = asyncio.ensure_future(committer.commit_async([event(contested)]))
        await asyncio.sleep(0.05)  # all ten queued
        await asyncio.to_thread(one_round)
        return await asyncio.gather(first, *others, late, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(ids, list) and len(ids) == 1 for ids in outcomes[:9])
    assert isinstance(outcomes[9], ConcurrencyConflict)
    assert batches == [9]  # the other nine still went in one insert
    committer._closed = True
