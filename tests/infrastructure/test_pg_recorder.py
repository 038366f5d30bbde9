"""The PostgreSQL batch insert: one blocking libpq call with binary arrays laid out by hand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from infrastructure.pg_recorder import binary_array
from interfaces.composition.bootstrap import bootstrap
from tests.conftest import backend_env, drop_pg_database, make_settings


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[object]:
    env = backend_env("postgres", tmp_path)
    container = bootstrap(make_settings(env), run_projectors=False)
    yield container.store.app.recorder
    container.close()
    drop_pg_database(env["DATABASE_URL"])


def _event(originator: uuid.UUID, version: int, state: bytes = b"\x00state\xff") -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version,
                       topic="tests:Thing.Happened ü", state=state)


def test_a_batch_reads_back_as_written(recorder) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    batch = [_event(first, 1), _event(first, 2, b""), _event(second, 2**40, bytes(range(256)))]
    ids = recorder.insert_events(batch)
    assert len(ids) == 3 and ids == sorted(ids)
    back = recorder.select_events(first) + recorder.select_events(second)
    assert [(e.originator_id, e.originator_version, e.topic, bytes(e.state)) for e in back] == \
        [(e.originator_id, e.originator_version, e.topic, e.state) for e in batch]


def test_a_taken_version_fails_the_whole_batch(recorder) -> None:
    thing = uuid.uuid4()
    recorder.insert_events([_event(thing, 1)])
    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(uuid.uuid4(), 1), _event(thing, 1)])
    assert len(recorder.select_notifications(start=1, limit=10)) == 1


def test_a_session_that_lost_the_prepared_statement_prepares_it_again(recorder) -> None:
    event = _event(uuid.uuid4(), 1)
    params = [binary_array(2950, [event.originator_id.bytes]),
              binary_array(20, [(1).to_bytes(8, "big")]),
              binary_array(25, [event.topic.encode()]), binary_array(17, [event.state])]
    with recorder.datastore.get_connection() as conn:
        conn.execute("DEALLOCATE ALL")  # what a session reset does
        recorder._prepared.add(conn)  # ...while the recorder believes it prepared there
        result = recorder._execute(conn, params)
    assert result.ntuples == 1
    assert recorder.select_events(event.originator_id)[0].state == event.state
