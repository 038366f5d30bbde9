"""The PostgreSQL application recorder with a batch insert in one round trip.

The library passes each batch as an array of a composite type, which psycopg encodes row by row in
Python; with group commit that encoding ran on the single committer thread and became the write
path's bottleneck. Four binary arrays of plain types (uuid, bigint, text, bytea) carry the same
rows and encode in a fraction of the time.

The library then runs the batch in pipeline mode: lock, insert, sync, fetch the ids, notify,
commit. psycopg's pipeline loop polls the socket for "readable or writable" while it waits, and
a socket is nearly always writable: the committer thread spun on the GIL through every round trip
(a third of the writing process's CPU at 500 commits/s). Here one function call does it all in
the statement's own transaction, sent as one blocking libpq call (`exec_prepared`) during which
the thread holds no GIL; the four arrays are laid out in PostgreSQL's binary format here. The
function takes the library's table lock (commit order = id order, so readers never pass over a
gap) and sends the NOTIFY with the batch's last id (every listener used to answer a bare NOTIFY
with a query for the log head; a NOTIFY is delivered at commit, in commit order).

A batch that loses its connection (a server restart) may or may not have committed. It is settled,
not blindly sent again: the log is asked whether the batch is there, and only an absent batch is
inserted again (`insert_events`, `_recover`); a database that stays away is `Unavailable`.
"""

from __future__ import annotations

import logging
import struct
import time
import weakref
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.errors import InvalidSqlStatementName, error_from_result
from psycopg.pq import ExecStatus
from psycopg.sql import SQL, Identifier, Literal

from application.errors import Unavailable
from infrastructure.availability import is_database_away, never_sent

log = logging.getLogger("chronicle.commit")
RECOVERY_PAUSE = 0.2  # seconds between attempts to settle a batch whose connection was lost

_CREATE_INSERT_FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.{function}(
    ids uuid[], versions bigint[], topics text[], states bytea[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $body$
DECLARE
    inserted bigint[];
BEGIN
    SET LOCAL lock_timeout = {lock_timeout};
    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
    WITH rows AS (
        INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id)
    SELECT array_agg(notification_id ORDER BY notification_id) INTO inserted FROM rows;
    PERFORM pg_notify({channel}, inserted[array_upper(inserted, 1)]::text);
    RETURN QUERY SELECT unnest(inserted);
END
$body$
"""


class ArrayInsertRecorder(PostgresApplicationRecorder):
    recovery_seconds = 5.0  # how long a batch that lost the database tries to settle

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        names = {"schema": Identifier(self.datastore.schema),
                 "table": Identifier(self.events_table_name),
                 "function": Identifier(f"{self.events_table_name}_insert"[:63])}
        self.sql_create_statements.append(SQL(_CREATE_INSERT_FUNCTION).format(
            **names, lock_timeout=Literal(f"{self.datastore.lock_timeout}s"),
            channel=Literal(self.channel_name)))
        self.insert_call = SQL(
            "SELECT id FROM {schema}.{function}($1, $2, $3, $4) AS inserted (id)"
        ).format(**names)
        self.landed_query = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.state"
            " FROM {schema}.{table} AS e JOIN unnest(%s::uuid[], %s::bigint[]) AS k (id, version)"
            " ON e.originator_id = k.id AND e.originator_version = k.version").format(**names)
        self._prepared: weakref.WeakSet[Any] = weakref.WeakSet()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        """One blocking libpq call per batch. psycopg's cursor sends and then waits in two
        steps, each releasing the GIL; under many command threads each step then waited
        milliseconds to take it back. `exec_prepared` holds the whole round trip in C with the
        GIL released, so the committer queues for the GIL once per batch.

        A batch whose connection is lost is not simply sent again (the library's blind retry
        did that): if the lost insert had committed, the second one would fail as a version
        conflict and the command would be decided and applied a second time. See `_recover`.
        """
        if not stored_events:
            return []
        params = _params(stored_events)
        try:
            return self._insert(params)
        except Exception as error:
            if not is_database_away(error):
                raise
            log.warning("event insert lost the database; finding out whether it committed",
                        extra={"error": str(error)})
            return self._recover(stored_events, params, sent=not never_sent(error))

    def _insert(self, params: list[bytes]) -> list[int]:
        with self.datastore.get_connection() as conn:
            result = self._execute(conn, params)
            return [int.from_bytes(result.get_value(row, 0) or b"", "big", signed=True)
                    for row in range(result.ntuples)]

    def _recover(self, stored_events: Sequence[StoredEvent], params: list[bytes],
                 sent: bool) -> list[int]:
        """Settle a batch whose insert may or may not have committed, within `recovery_seconds`
        (enough to ride out a fast restart of the server).

        While the outcome is unknown (`sent`), ask the log whether the batch is there: if it is,
        it committed and its ids are the answer; if not, insert it again. When the database
        stays away, `Unavailable` says whether the batch may have landed (OUTCOME_UNKNOWN) or
        certainly did not; nothing is ever written twice."""
        deadline = time.monotonic() + self.recovery_seconds
        while time.monotonic() < deadline:
            time.sleep(RECOVERY_PAUSE)
            try:
                if sent:
                    ids = self.landed(stored_events)
                    if ids is not None:
                        return ids
                    sent = False
                return self._reinsert(stored_events, params)
            except Exception as error:
                if not is_database_away(error):
                    raise
                sent = sent or not never_sent(error)
        raise Unavailable(Unavailable.OUTCOME_UNKNOWN if sent else Unavailable.DATABASE)

    def _reinsert(self, stored_events: Sequence[StoredEvent], params: list[bytes]) -> list[int]:
        """Insert a batch found absent. The lost insert may still be running on a server that has
        not noticed its client is gone and commit first; this one then waits for the table
        lock, meets the batch's own rows as a version conflict, and the log settles it."""
        try:
            return self._insert(params)
        except IntegrityError:
            ids = self.landed(stored_events)
            if ids is None:
                raise
            return ids

    def landed(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The batch's notification ids if it is in the log, None if it is not.

        A batch is one transaction: all of it is there or none. Each state is encrypted under a
        fresh nonce, so the same bytes at the same aggregate version are this batch's own, not
        another writer's who took that version."""
        keys = [(UUID(bytes=_uuid_bytes(e.originator_id)), e.originator_version)
                for e in stored_events]
        with self.datastore.get_connection() as conn:
            rows = conn.execute(self.landed_query, ([k for k, _ in keys], [v for _, v in keys]),
                                prepare=False).fetchall()
        found = {(row["originator_id"], row["originator_version"]): row for row in rows}
        matches = [found.get(key) for key in keys]
        ours = [row is not None and bytes(row["state"]) == event.state
                for row, event in zip(matches, stored_events, strict=True)]
        if not any(ours):
            return None
        if not all(ours):
            raise RuntimeError("only part of a batch is in the event log")
        return [int(row["notification_id"]) for row in matches if row is not None]

    def _execute(self, conn: Any, params: list[bytes]) -> Any:
        if conn not in self._prepared:
            self._prepare(conn)
        try:
            return self._call(conn, params)
        except InvalidSqlStatementName:  # the session lost it (a reset): prepare again
            self._prepare(conn)
            return self._call(conn, params)

    @staticmethod
    def _call(conn: Any, params: list[bytes]) -> Any:
        result = conn.pgconn.exec_prepared(_STATEMENT, params, _BINARY_PARAMS, 1)
        if result.status != ExecStatus.TUPLES_OK:
            raise error_from_result(result, conn.info.encoding)
        return result

    def _prepare(self, conn: Any) -> None:
        text = self.insert_call.as_string(conn).encode()
        result = conn.pgconn.prepare(_STATEMENT, text, _PARAM_TYPES)
        if result.status != ExecStatus.COMMAND_OK:
            raise error_from_result(result, conn.info.encoding)
        self._prepared.add(conn)


# PostgreSQL type oids and the binary array layout (array_recv): dimensions, has-nulls flag,
# element type, then per dimension its length and lower bound, then each element's length and
# bytes.
_UUID, _INT8, _TEXT, _BYTEA = 2950, 20, 25, 17
_PARAM_TYPES = [2951, 1016, 1009, 1001]  # uuid[], int8[], text[], bytea[]
_BINARY_PARAMS = [1, 1, 1, 1]
_STATEMENT = b"chronicle_insert_events"
_ARRAY_HEAD = struct.Struct(">iiIii")
_LENGTH = struct.Struct(">i")


def _params(stored_events: Sequence[StoredEvent]) -> list[bytes]:
    return [
        binary_array(_UUID, [_uuid_bytes(e.originator_id) for e in stored_events]),
        binary_array(_INT8, [e.originator_version.to_bytes(8, "big", signed=True)
                             for e in stored_events]),
        binary_array(_TEXT, [e.topic.encode() for e in stored_events]),
        binary_array(_BYTEA, [e.state for e in stored_events]),
    ]


def _uuid_bytes(value: UUID | str) -> bytes:
    return value.bytes if isinstance(value, UUID) else UUID(str(value)).bytes


def binary_array(element_oid: int, items: list[bytes]) -> bytes:
    """A one-dimensional array without nulls in PostgreSQL's binary format."""
    parts = [_ARRAY_HEAD.pack(1, 0, element_oid, len(items), 1)]
    pack = _LENGTH.pack
    for item in items:
        parts.append(pack(len(item)))
        parts.append(item)
    return b"".join(parts)
