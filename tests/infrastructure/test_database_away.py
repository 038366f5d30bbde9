"""A database that is away: writes settle or say so, reads retry a dead connection, and every
route answers 503 with Retry-After instead of 500. Connections are lost on purpose here (a
recorder call that fails, `pg_terminate_backend`); the restart under load is test_database_restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg_pool import PoolTimeout

from application.errors import Unavailable
from infrastructure.availability import is_database_away
from interfaces.composition.bootstrap import bootstrap
from tests.chats.helpers import chat_doc
from tests.conftest import PG_ADMIN_URL, backend_env, drop_pg_database, make_settings
from tests.helpers import cast

pytestmark = pytest.mark.postgres
LOST = "server closed the connection unexpectedly"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Any]:
    env = backend_env("postgres", tmp_path)
    made = bootstrap(make_settings(env))
    made.store.app.recorder.recovery_seconds = 1.0
    yield made
    made.close()
    drop_pg_database(env["DATABASE_URL"])


@pytest.fixture
def recorder(container: Any) -> Any:
    return container.store.app.recorder


def _event(originator: uuid.UUID, version: int = 1) -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version,
                       topic="tests:Thing.Happened", state=uuid.uuid4().bytes)


def _losing(recorder: Any, monkeypatch: pytest.MonkeyPatch, after_sending: bool,
            times: int = 1) -> None:
    """The insert's answer is lost `times` times, after or before the server ran it."""
    real, lost = recorder._call, [times]

    def call(conn: Any, params: list[bytes]) -> Any:
        if lost[0] <= 0:
            return real(conn, params)
        lost[0] -= 1
        if after_sending:
            real(conn, params)
        raise psycopg.DatabaseError(LOST)

    monkeypatch.setattr(recorder, "_call", call)


def _rows(recorder: Any, originator: uuid.UUID) -> int:
    return len(recorder.select_events(originator))


def test_the_errors_of_a_database_that_is_away_are_told_from_the_rest() -> None:
    from eventsourcing.persistence import OperationalError

    assert is_database_away(psycopg.errors.AdminShutdown("terminating connection"))
    assert is_database_away(psycopg.DatabaseError(LOST))
    assert is_database_away(PoolTimeout("couldn't get a connection after 3 sec"))
    wrapped = OperationalError("lost")
    wrapped.__cause__ = psycopg.OperationalError("connection refused")
    assert is_database_away(wrapped)
    assert not is_database_away(psycopg.errors.UniqueViolation("duplicate key"))
    assert not is_database_away(psycopg.errors.LockNotAvailable("lock timeout"))
    assert not is_database_away(psycopg.ProgrammingError("bad query"))
    assert not is_database_away(ValueError("nothing to do with it"))


def test_an_insert_that_committed_but_lost_its_answer_is_found_in_the_log(
        recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    thing = uuid.uuid4()
    _losing(recorder, monkeypatch, after_sending=True)
    ids = recorder.insert_events([_event(thing, 1), _event(thing, 2)])
    assert _rows(recorder, thing) == 2  # not written twice, and not a conflict either
    assert [n.id for n in recorder.select_notifications(start=1, limit=10)] == ids


def test_an_insert_lost_before_it_ran_is_sent_again_once(
        recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    thing = uuid.uuid4()
    _losing(recorder, monkeypatch, after_sending=False, times=2)
    ids = recorder.insert_events([_event(thing)])
    assert _rows(recorder, thing) == 1 and len(ids) == 1


def test_a_version_another_writer_took_meanwhile_is_a_conflict(
        recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    thing = uuid.uuid4()
    real = recorder._call

    def call(conn: Any, params: list[bytes]) -> Any:
        monkeypatch.setattr(recorder, "_call", real)
        real(conn, recorder_params([_event(thing)]))  # the other writer's event, not ours
        raise psycopg.DatabaseError(LOST)

    monkeypatch.setattr(recorder, "_call", call)
    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(thing)])
    assert _rows(recorder, thing) == 1


def recorder_params(events: list[StoredEvent]) -> list[bytes]:
    from infrastructure.pg_recorder import _params

    return _params(events)


def test_a_database_that_stays_away_says_whether_the_write_may_have_landed(
        recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def away(*args: Any) -> Any:
        raise psycopg.DatabaseError(LOST)

    monkeypatch.setattr(recorder, "_insert", away)
    monkeypatch.setattr(recorder, "landed", away)
    with pytest.raises(Unavailable) as unknown:
        recorder.insert_events([_event(uuid.uuid4())])
    assert unknown.value.detail == Unavailable.OUTCOME_UNKNOWN

    def no_connection(*args: Any) -> Any:
        raise PoolTimeout("couldn't get a connection")

    monkeypatch.setattr(recorder, "_insert", no_connection)
    with pytest.raises(Unavailable) as refused:
        recorder.insert_events([_event(uuid.uuid4())])
    assert refused.value.detail == Unavailable.DATABASE


def _terminate_connections(url: str) -> int:
    """What a server restart does to every session of the test's database."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
    return len(rows)


def test_reads_and_writes_after_every_connection_was_killed_succeed(container: Any) -> None:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    with TestClient(create_app(container=container)) as client:
        user = cast(client).user
        chat = client.post("/api/v1/chats/new", json={"chat": chat_doc("before", "hi")},
                           headers=user.headers).json()
        assert _terminate_connections(container.settings.DATABASE_URL) > 0
        assert client.get("/api/v1/chats/", headers=user.headers).status_code == 200
        saved = client.post(f"/api/v1/chats/{chat['id']}", headers=user.headers,
                            json={"chat": chat_doc("after", "hi", "again")})
        assert saved.status_code == 200, saved.text
        made = client.post("/api/v1/chats/new", json={"chat": chat_doc("new", "hi")},
                           headers=user.headers)
        assert made.status_code == 200, made.text
        titles = client.get("/api/v1/chats/", headers=user.headers).json()
        assert sorted(c["title"] for c in titles) == ["after", "new"]


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert isinstance(response.json()["detail"], str)


def test_a_database_away_answers_503_on_every_path(container: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from interfaces.app import create_app

    with TestClient(create_app(container=container), raise_server_exceptions=True) as client:
        user = cast(client).user
        chat = client.post("/api/v1/chats/new", json={"chat": chat_doc("t", "hi")},
                           headers=user.headers).json()
        recorder = container.store.app.recorder

        def away(*args: Any) -> Any:
            raise psycopg.errors.AdminShutdown("terminating connection")

        monkeypatch.setattr(recorder, "_insert", away)
        monkeypatch.setattr(recorder, "landed", away)
        monkeypatch.setattr(recorder, "recovery_seconds", 0.3)
        for response in (  # the thread path and the event-loop path of commands
                client.post("/api/v1/chats/new", json={"chat": chat_doc("x")},
                            headers=user.headers),
                client.post(f"/api/v1/chats/{chat['id']}", json={"chat": chat_doc("y")},
                            headers=user.headers)):
            _assert_unavailable(response)
            assert response.json()["detail"] == Unavailable.OUTCOME_UNKNOWN
        monkeypatch.undo()

        def no_pool(*args: Any, **kwargs: Any) -> Any:
            raise PoolTimeout("couldn't get a connection after 10 sec")

        monkeypatch.setattr(container.read_db.pool, "connection", no_pool)
        monkeypatch.setattr(container.read_db.pool, "check", lambda: None)
        _assert_unavailable(client.get("/api/v1/chats/", headers=user.headers))
        monkeypatch.undo()

        # A driver error no adapter converted still is 503, not 500 (the one place: errors.py).
        monkeypatch.setattr(container.chats, "readable", away)
        _assert_unavailable(client.get(f"/api/v1/chats/{chat['id']}", headers=user.headers))
