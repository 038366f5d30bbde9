"""The projection runtime on both backends: catch-up, supervision, rebuild and resume."""

from __future__ import annotations

import time
import uuid
from functools import singledispatchmethod
from typing import Any

import pytest

from domain.user import User
from projections.runtime import Projector, read_state, rebuild
from projections.users import UsersProjector
from tests.conftest import built


def write_users(store: Any, users: int, updates: int) -> list[User]:
    made = [User(user_id=str(uuid.uuid4()), email=f"u{i}-{uuid.uuid4().hex[:6]}@x.org",
                 name=f"User {i}", role="user", password_hash="-", profile_image_url="",
                 stamp="s") for i in range(users)]
    store.save(*made)
    for round_ in range(updates):
        for user in made:
            user.update_settings({"ui": {"round": round_}})
        store.save(*made)
    return made


def dump(db: Any, table: str = "users") -> list[dict[str, Any]]:
    return db.query(f"SELECT * FROM {table} ORDER BY 1")


def wait_caught_up(container: Any, name: str, timeout: float = 30) -> None:
    head = container.store.head()
    assert container.host.wait([name], head, timeout), container.host.status()


@pytest.fixture
def quiet(settings_env):  # a container whose projectors the test starts itself
    with built(settings_env, run_projectors=False) as c:
        yield c


def test_live_projection_equals_rebuild(quiet):
    write_users(quiet.store, 20, 5)
    quiet.host.start(["users"])
    wait_caught_up(quiet, "users")
    live = dump(quiet.read_db)
    assert len(live) == 20 and all('"round": 4' in r["settings"] for r in live)
    generation = read_state(quiet.read_db, "users")["generation"]
    rebuild(UsersProjector, quiet.read_db, quiet.reader)
    assert read_state(quiet.read_db, "users")["generation"] == generation + 1
    assert dump(quiet.read_db) == live
    # the runner adopts the new generation and keeps following the log
    quiet.store.save(*write_users(quiet.store, 1, 0))
    wait_caught_up(quiet, "users")
    assert len(dump(quiet.read_db)) == 21


def test_interrupted_rebuild_resumes(quiet):
    write_users(quiet.store, 10, 30)

    def interrupt(applied: int, position: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild(UsersProjector, quiet.read_db, quiet.reader, page=50, progress=interrupt)
    shadow = read_state(quiet.read_db, "users@rebuild")
    assert shadow is not None and shadow["position"] == 50  # one page kept, the rest not
    applied = rebuild(UsersProjector, quiet.read_db, quiet.reader, page=50)
    assert applied == quiet.store.head() - 50
    assert read_state(quiet.read_db, "users@rebuild") is None
    assert len(dump(quiet.read_db)) == 10


class Poisoned(Projector):
    """Counts users, but cannot cope with a user named 'poison' until `cured`."""

    name = "poisoned"
    tables = ("user_count",)
    cured = False

    def ddl(self) -> list[str]:
        return ["CREATE TABLE {user_count} (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
                "INSERT INTO {user_count} (id, n) VALUES (1, 0)"]

    @singledispatchmethod
    def handle(self, event: Any, tx: Any) -> None:
        pass

    @handle.register
    def _registered(self, event: User.Registered, tx: Any) -> None:
        if event.name == "poison" and not Poisoned.cured:
            raise RuntimeError("cannot digest poison")
        tx.execute(f"UPDATE {self.t['user_count']} SET n = n + 1")


def test_failing_projector_is_retried_reported_and_recovers(quiet):
    from projections.host import ProjectionHost

    host = ProjectionHost(quiet.read_db, quiet.reader, [UsersProjector, Poisoned])
    host.start()
    try:
        write_users(quiet.store, 3, 0)
        bad = User(user_id=str(uuid.uuid4()), email="p@x.org", name="poison", role="user",
                   password_hash="-", profile_image_url="", stamp="s")
        quiet.store.save(bad)
        write_users(quiet.store, 2, 0)
        head = quiet.store.head()
        assert host.wait(["users"], head, 20)  # the healthy projector is not held back
        deadline = time.time() + 20
        while time.time() < deadline:
            status = {s["name"]: s for s in host.status()}["poisoned"]
            if status["failures"] >= 2:
                break
            time.sleep(0.1)
        assert status["status"] == "failed"
        assert "cannot digest poison" in status["last_error"]
        assert status["failures"] >= 2  # retried, not dead
        # it applied everything before the poison event, one by one
        assert quiet.read_db.query("SELECT n FROM user_count")[0]["n"] == 3
        row = read_state(quiet.read_db, "poisoned")
        assert row["status"] == "failed" and "poison" in row["last_error"]
        Poisoned.cured = True
        assert host.wait(["poisoned"], head, 30)
        assert quiet.read_db.query("SELECT n FROM user_count")[0]["n"] == 6
        assert {s["name"]: s for s in host.status()}["poisoned"]["status"] == "running"
    finally:
        Poisoned.cured = False
        host.stop()


def test_pages_are_read_ahead_in_order_and_the_reader_stops_when_closed(quiet):
    import threading
    from contextlib import closing

    from projections.runtime import read_pages

    write_users(quiet.store, 10, 20)
    expected = [n.id for n in quiet.store.select(0, 10_000)]
    pages = list(read_pages(quiet.store, 0, 17))
    assert [p for page in pages for p, _ in page.events] == expected
    assert all(len(page.rows) <= 17 for page in pages)
    assert [p for page in read_pages(quiet.store, expected[99], 50, upto=expected[149])
            for p, _ in page.events] == expected[100:150]
    with closing(read_pages(quiet.store, 0, 5)) as early:
        next(early)
    assert not [t for t in threading.enumerate() if t.name == "log-prefetch" and t.is_alive()]


def test_an_event_that_does_not_decode_stops_a_replay_unless_tolerated(quiet):
    from eventsourcing.persistence import MapperDeserialisationError

    from projections.runtime import read_pages
    from tests.operations.helpers import events_sql, stored_id

    write_users(quiet.store, 3, 2)
    target = quiet.store.select(0, 100)[4]
    state = bytearray(target.state)
    state[-1] ^= 0x01
    events_sql(quiet, "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = ?",
               (bytes(state), stored_id(quiet, target.originator_id), target.originator_version))
    with pytest.raises(MapperDeserialisationError):
        list(read_pages(quiet.store, 0, 3))
    pages = list(read_pages(quiet.store, 0, 3, tolerant=True))
    assert [row.id for page in pages for row, _ in page.errors] == [target.id]
    assert target.id not in [p for page in pages for p, _ in page.events]
    assert sum(len(page.events) for page in pages) == quiet.store.head() - 1


def _stored(container: Any, name: str) -> int:
    return int(read_state(container.read_db, name)["position"])


def test_pages_a_projector_ignores_are_held_in_memory_then_stored(quiet):
    from domain.chat import Chat

    write_users(quiet.store, 3, 0)
    quiet.host.start(["users"])
    runner = quiet.host.runners["users"]
    wait_caught_up(quiet, "users")
    before, rows = _stored(quiet, "users"), dump(quiet.read_db)
    runner.flush_every = 3600.0  # hold positions reached through ignored pages
    for _ in range(5):
        quiet.store.save(Chat.create(str(uuid.uuid4()), {"title": "not a user event"}))
    wait_caught_up(quiet, "users")  # this process sees the position at once...
    assert runner.status.position == quiet.store.head() > before
    assert _stored(quiet, "users") == before  # ...which no transaction has written yet
    assert dump(quiet.read_db) == rows
    # A page it does project stores the position, the held stretch included.
    quiet.store.save(*write_users(quiet.store, 1, 0))
    wait_caught_up(quiet, "users")
    assert _stored(quiet, "users") == quiet.store.head()
    quiet.store.save(Chat.create(str(uuid.uuid4()), {"title": "held again"}))
    wait_caught_up(quiet, "users")
    runner.flush_every = 0.0  # due now: the idle runner stores it
    deadline = time.monotonic() + 10
    while _stored(quiet, "users") != quiet.store.head():
        assert time.monotonic() < deadline, "the held position was never stored"
        time.sleep(0.05)


def test_a_rebuild_while_a_position_is_held_is_adopted(quiet):
    from domain.chat import Chat

    write_users(quiet.store, 4, 1)
    quiet.host.start(["users"])
    runner = quiet.host.runners["users"]
    wait_caught_up(quiet, "users")
    runner.flush_every = 3600.0
    quiet.store.save(Chat.create(str(uuid.uuid4()), {"title": "ignored"}))
    wait_caught_up(quiet, "users")
    generation = read_state(quiet.read_db, "users")["generation"]
    rebuild(UsersProjector, quiet.read_db, quiet.reader)
    assert read_state(quiet.read_db, "users")["generation"] == generation + 1
    quiet.store.save(*write_users(quiet.store, 2, 0))  # the runner must follow the new tables
    wait_caught_up(quiet, "users")
    deadline = time.monotonic() + 10
    while len(dump(quiet.read_db)) != 6:
        assert time.monotonic() < deadline, dump(quiet.read_db)
        time.sleep(0.05)
    assert runner.status.generation == generation + 1
    assert _stored(quiet, "users") == quiet.store.head()


def test_a_runner_whose_lease_cannot_be_asked_backs_off_alone(quiet):
    """One thread drives every runner of a process: a runner that raises, anywhere in its turn,
    is reported and retried while the others keep going."""
    from projections.host import ProjectionHost

    class BrokenLease:
        def acquire(self, name: str) -> bool:
            if name == "poisoned":
                raise RuntimeError("lease service unreachable")
            return True

        def release(self, name: str) -> None:
            pass

    host = ProjectionHost(quiet.read_db, quiet.reader, [UsersProjector, Poisoned],
                          lease=BrokenLease())
    host.start()
    try:
        write_users(quiet.store, 3, 0)
        assert host.wait(["users"], quiet.store.head(), 20)
        deadline = time.time() + 20
        while {s["name"]: s for s in host.status()}["poisoned"]["failures"] < 2:
            assert time.time() < deadline, host.status()
            time.sleep(0.1)
        status = {s["name"]: s for s in host.status()}
        assert status["poisoned"]["status"] == "failed"
        assert "lease service unreachable" in status["poisoned"]["last_error"]
        assert status["users"]["status"] == "running"
        write_users(quiet.store, 2, 0)  # the shared thread is still alive and projecting
        assert host.wait(["users"], quiet.store.head(), 20)
        assert len(dump(quiet.read_db)) == 5
    finally:
        host.stop()
