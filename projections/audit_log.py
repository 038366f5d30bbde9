"""The audit index: one row per recorded event (who, when, what kind of change, to what).

Built from the plain metadata every stored event carries, so it holds ids, types and times but
nothing a user wrote; events of an erased owner are indexed like any other (as tombstones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from application.audit import describe, topic_of
from infrastructure.mapper import event_meta
from infrastructure.sql import Database, Tx, insert_rows
from projections.runtime import Event, Projector

COLUMNS = ("position", "aggregate_id", "kind", "version", "type", "actor_id", "correlation_id",
           "at")
_PG_TYPES = ("bigint", "text", "text", "int", "text", "text", "text", "float8")


class AuditLogProjector(Projector):
    name = "audit_log"
    version = 1
    tables = ("audit_events",)
    follows = (object,)  # a row for every event, whatever its class

    def ddl(self) -> list[str]:
        big = "BIGINT" if self.dialect == "postgres" else "INTEGER"
        real = "DOUBLE PRECISION" if self.dialect == "postgres" else "REAL"
        return [
            f"CREATE TABLE {{audit_events}} (position {big} PRIMARY KEY, aggregate_id TEXT NOT "
            f"NULL, kind TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, actor_id "
            f"TEXT, correlation_id TEXT, at {real})",
            "CREATE UNIQUE INDEX {audit_events}_aggregate ON {audit_events} (aggregate_id, version)",
            "CREATE INDEX {audit_events}_actor ON {audit_events} (actor_id, position)",
            "CREATE INDEX {audit_events}_kind ON {audit_events} (kind, position)",
            "CREATE INDEX {audit_events}_at ON {audit_events} (at)",
        ]

    def apply_page(self, events: Sequence[Event], tx: Tx) -> None:
        # One statement per page on PostgreSQL: a rebuild writes a row for every event.
        insert_rows(tx, self.t["audit_events"], COLUMNS, _PG_TYPES,
                    [self.row(position, event) for position, event in events],
                    "ON CONFLICT (position) DO NOTHING")

    @staticmethod
    def row(position: int, event: Any) -> tuple[Any, ...]:
        meta = event_meta(event)
        kind, event_type = describe(topic_of(event))
        at = meta.get("t")
        if at is None and getattr(event, "timestamp", None) is not None:
            at = event.timestamp.timestamp()
        return (position, str(event.originator_id), kind, event.originator_version, event_type,
                meta.get("a"), meta.get("c"), at)


class AuditQueries:
    def __init__(self, db: Database):
        self.db = db

    def positions(self, aggregate_id: str, first: int, last: int) -> dict[int, int]:
        rows = self.db.query("SELECT version, position FROM audit_events WHERE aggregate_id = ? "
                             "AND version BETWEEN ? AND ?", (aggregate_id, first, last))
        return {int(r["version"]): int(r["position"]) for r in rows}

    def version_at(self, aggregate_id: str, at: float) -> int | None:
        rows = self.db.query("SELECT MAX(version) AS v FROM audit_events WHERE aggregate_id = ? "
                             "AND at <= ?", (aggregate_id, at))
        value = rows[0]["v"] if rows else None
        return int(value) if value is not None else None

    def search(self, *, actor: str | None = None, kind: str | None = None,
               event_type: str | None = None, since: float | None = None,
               until: float | None = None, aggregate_id: str | None = None,
               cursor: int | None = None, descending: bool = True,
               limit: int = 50) -> list[dict[str, Any]]:
        """Newest first by default; `cursor` is the last position of the previous page."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("actor_id", actor), ("kind", kind), ("type", event_type),
                              ("aggregate_id", aggregate_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if until is not None:
            where.append("at < ?")
            params.append(until)
        if cursor is not None:
            where.append("position < ?" if descending else "position > ?")
            params.append(cursor)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        order = "DESC" if descending else "ASC"
        return self.db.query(f"SELECT {', '.join(COLUMNS)} FROM audit_events {clause} "
                             f"ORDER BY position {order} LIMIT ?", (*params, limit))
