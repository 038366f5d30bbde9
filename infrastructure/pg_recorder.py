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
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.errors import InvalidSqlStatementName, error_from_result
from psycopg.pq import ExecStatus
from psycopg.sql import SQL, Identifier, Literal

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
        self._prepared: weakref.WeakSet[Any] = weakref.WeakSet()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        """One blocking libpq call per batch. psycopg's cursor sends and then waits in two
        steps, each releasing the GIL; under many command threads each step then waited
        milliseconds to take it back. `exec_prepared` holds the whole round trip in C with the
        GIL released, so the committer queues for the GIL once per batch."""
        if not stored_events:
            return []
        params = [
            binary_array(_UUID, [_uuid_bytes(e.originator_id) for e in stored_events]),
            binary_array(_INT8, [e.originator_version.to_bytes(8, "big", signed=True)
                                 for e in stored_events]),
            binary_array(_TEXT, [e.topic.encode() for e in stored_events]),
            binary_array(_BYTEA, [e.state for e in stored_events]),
        ]
        with self.datastore.get_connection() as conn:
            result = self._execute(conn, params)
            return [int.from_bytes(result.get_value(row, 0) or b"", "big", signed=True)
                    for row in range(result.ntuples)]

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
