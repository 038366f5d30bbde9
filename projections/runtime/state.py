"""The state table and the tables it points at.

`projection_state` holds a row per projector (its generation, position, version, status and the
event a failed runner is stopped at). A projector's tables are generations behind views (`users`
is a view of `users__g3`): created, pointed at and dropped here.
"""

from __future__ import annotations

import json
from typing import Any

from infrastructure.sql import Database, Tx
from projections.runtime.contract import Projector, physical_names

STATE_TABLE = "projection_state"
NOTIFY_CHANNEL = "chronicle_projection"
RUNNING = ("status = 'running', failures = 0, last_error = NULL, "
           "failed_event = NULL")  # a state row's healthy columns


def ensure_state_table(db: Database) -> None:
    big = "BIGINT" if db.dialect == "postgres" else "INTEGER"
    real = "DOUBLE PRECISION" if db.dialect == "postgres" else "REAL"
    with db.transaction() as tx:
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (name TEXT PRIMARY KEY, "
            f"generation INTEGER NOT NULL, position {big} NOT NULL, version INTEGER NOT NULL, "
            f"status TEXT, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, "
            f"updated_at {real})"
        )
        _add_state_columns(tx, {
            "failed_event": "TEXT",  # JSON: the event a failed runner is stopped at
            "skipped": f"{big} NOT NULL DEFAULT 0",  # events passed over undecoded (the feed)
            "last_skipped": "TEXT",  # JSON: the last of them
        })


def _add_state_columns(tx: Tx, wanted: dict[str, str]) -> None:
    """Columns newer than the table (made by an earlier release). Looked up first: an ALTER
    would wait for the row locks of every running projector even when there is nothing to add."""
    if tx.dialect == "postgres":
        have = {r["column_name"] for r in tx.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema()", (STATE_TABLE,))}
    else:
        have = {r["name"] for r in tx.execute(f"PRAGMA table_info({STATE_TABLE})")}
    for column, kind in wanted.items():
        if column not in have:
            tx.execute(f"ALTER TABLE {STATE_TABLE} ADD COLUMN {column} {kind}")


def state_json(value: str | None) -> dict[str, Any] | None:
    """A JSON column of the state row (failed_event, last_skipped), parsed."""
    return json.loads(value) if value else None


def read_state(db: Database, name: str) -> dict[str, Any] | None:
    rows = db.query(f"SELECT * FROM {STATE_TABLE} WHERE name = ?", (name,))
    return rows[0] if rows else None


def create_generation(tx: Tx, cls: type[Projector], generation: int) -> Projector:
    return create_tables(tx, cls, physical_names(cls, generation))


def create_tables(tx: Tx, cls: type[Projector], names: dict[str, str]) -> Projector:
    """A projector writing to fresh (emptied) tables of the given physical names."""
    projector = cls(names, tx.dialect)
    drop_tables(tx, names)
    for statement in projector.ddl():
        tx.execute(statement.format(**names))
    return projector


def point_views(tx: Tx, cls: type[Projector], generation: int) -> None:
    names = physical_names(cls, generation)
    for table in cls.tables:
        tx.execute(f"DROP VIEW IF EXISTS {table}")
        tx.execute(f"CREATE VIEW {table} AS SELECT * FROM {names[table]}")


def drop_generation(tx: Tx, cls: type[Projector], generation: int) -> None:
    drop_tables(tx, physical_names(cls, generation))


def drop_tables(tx: Tx, names: dict[str, str]) -> None:
    for name in names.values():
        tx.execute(f"DROP TABLE IF EXISTS {name}")
