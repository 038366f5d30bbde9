"""Bulk inserts (one binary `unnest` statement on PostgreSQL, executemany on SQLite) on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.sql import insert_rows
from tests.conftest import built

COLUMNS = ("id", "name", "score", "flag", "at")
PG_TYPES = ("bigint", "text", "float8", "int", "bigint")


@pytest.fixture
def db(settings_env):  # type: ignore[no-untyped-def]
    with built(settings_env, run_projectors=False) as container:
        with container.read_db.transaction() as tx:
            tx.execute("CREATE TABLE bulk_rows (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE "
                       "PRECISION, flag INTEGER, at BIGINT)")
        yield container.read_db
        with container.read_db.transaction() as tx:
            tx.execute("DROP TABLE bulk_rows")


def _rows(db: Any) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in COLUMNS)
            for r in db.query("SELECT id, name, score, flag, at FROM bulk_rows ORDER BY id")]


def test_values_of_every_shape_arrive_as_given(db: Any) -> None:
    rows = [(1, "plain", 1.5, 1, 1_700_000_000), (2, None, 2, True, None),  # int in a float column
            (3, "ünïcode \"quoted\" {braces}, commas", None, False, 2**40), (4, "", 0.0, 0, 0)]
    with db.transaction() as tx:
        insert_rows(tx, "bulk_rows", COLUMNS, PG_TYPES, rows)
    assert _rows(db) == [(1, "plain", 1.5, 1, 1_700_000_000), (2, None, 2.0, 1, None),
                         (3, "ünïcode \"quoted\" {braces}, commas", None, 0, 2**40),
                         (4, "", 0.0, 0, 0)]


def test_a_column_of_nulls_and_an_upsert(db: Any) -> None:
    with db.transaction() as tx:
        insert_rows(tx, "bulk_rows", COLUMNS, PG_TYPES, [(1, None, None, None, None),
                                                         (2, None, None, None, None)])
        insert_rows(tx, "bulk_rows", COLUMNS, PG_TYPES, [(2, "second", 0.5, 1, 7)],
                    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, score = excluded.score")
        insert_rows(tx, "bulk_rows", COLUMNS, PG_TYPES, [])  # nothing to do
    assert _rows(db) == [(1, None, None, None, None), (2, "second", 0.5, None, None)]
