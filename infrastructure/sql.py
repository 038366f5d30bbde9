"""One small SQL facade over SQLite and PostgreSQL for read models, keys and caches.

Statements are written once with `?` placeholders; PostgreSQL gets them translated. Rows come back as
dicts. A transaction on SQLite is BEGIN IMMEDIATE (the writer lock up front, so two writers never
deadlock upgrading a read lock); on PostgreSQL it is a pooled connection in a transaction.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

from application.commands import forbid_blocking
from infrastructure.availability import database_required, is_database_away, never_sent

Dialect = Literal["sqlite", "postgres"]


class Tx(Protocol):
    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = (), binary: bool = False
                ) -> list[dict[str, Any]]:
        """`binary`: parameters in binary format where the database has one (arrays dump
        several times faster)."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def notify(self, channel: str, payload: str) -> None: ...


@lru_cache(maxsize=4096)
def _returns_rows(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head in ("SELECT", "WITH R") or " RETURNING " in sql.upper()


@lru_cache(maxsize=4096)
def _is_read(sql: str) -> bool:
    """A plain SELECT: safe to send again when its connection died (a write may have landed)."""
    return sql.lstrip()[:6].upper() == "SELECT"


@lru_cache(maxsize=4096)
def to_pg(sql: str, binary: bool = False) -> str:
    return sql.replace("%", "%%").replace("?", "%b" if binary else "%s")


_FOR_UPDATE = re.compile(r"\s+FOR UPDATE\b", re.IGNORECASE)


@lru_cache(maxsize=1024)
def to_sqlite(sql: str) -> str:
    return _FOR_UPDATE.sub("", sql)


class SqliteTx:
    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), binary: bool = False
                ) -> list[dict[str, Any]]:
        cur = self.conn.execute(to_sqlite(sql), tuple(params))
        if cur.description is None:
            return []
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(to_sqlite(sql), rows)

    def notify(self, channel: str, payload: str) -> None:
        """SQLite has no NOTIFY; in-process waiters are woken by the caller."""


class PostgresTx:
    dialect: Dialect = "postgres"

    def __init__(self, conn: Any, pipeline: Any = None):
        self.conn = conn
        self.pipeline = pipeline

    def execute(self, sql: str, params: Sequence[Any] = (), binary: bool = False
                ) -> list[dict[str, Any]]:
        with self.conn.cursor() as cur:
            cur.execute(to_pg(sql, binary), tuple(params) if params else None)
            if self.pipeline is not None:
                if not _returns_rows(sql):
                    return []  # stay pipelined: no round trip for plain writes
                self.pipeline.sync()
            if cur.description is None:
                return []
            cols = [d.name for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(to_pg(sql), rows)

    def notify(self, channel: str, payload: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, %s)", (channel, payload))


def insert_rows(tx: Tx, table: str, columns: Sequence[str], pg_types: Sequence[str],
                rows: Sequence[Sequence[Any]], on_conflict: str = "") -> None:
    """Insert many rows in one statement on PostgreSQL (one binary array per column through
    `unnest`; psycopg's executemany sends a statement per row), with executemany on SQLite."""
    if not rows:
        return
    insert = f"INSERT INTO {table} ({', '.join(columns)})"
    if tx.dialect == "postgres":
        arrays = ", ".join(f"?::{t}[]" for t in pg_types)
        tx.execute(f"{insert} SELECT * FROM unnest({arrays}) {on_conflict}",
                   [_array(column, t) for column, t in zip(zip(*rows, strict=True), pg_types,
                                                            strict=True)], binary=True)
        return
    marks = ", ".join("?" for _ in columns)
    tx.executemany(f"{insert} VALUES ({marks}) {on_conflict}", rows)


_NUMBERS = {"float8": float, "int": int, "bigint": int}


def _array(values: Sequence[Any], pg_type: str) -> list[Any]:
    """A binary array holds one Python type: a float column's whole numbers become floats, an
    integer column's booleans integers."""
    number = _NUMBERS.get(pg_type)
    if number is None:
        return list(values)
    return [None if v is None else number(v) for v in values]


class Database:
    """A read-model database: a SQLite file, or a schema of a PostgreSQL database."""

    dialect: Dialect

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        raise NotImplementedError
        yield  # pragma: no cover

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def ping(self) -> bool:
        try:
            self.query("SELECT 1 AS ok")
            return True
        except Exception:
            return False

    def scrub(self, full: bool = False) -> None:
        """Leave no readable copy of deleted rows in the database's files (after an erasure).

        `full` also rewrites PostgreSQL tables (VACUUM FULL locks each one while it runs)."""
        raise NotImplementedError


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path | str):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._busy: dict[int, int] = {}  # id(connection) → statements running on it

    @contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """A connection marked busy, so close() never frees it under a running statement (a
        segmentation fault in the sqlite3 module)."""
        forbid_blocking()
        conn = self._conn()
        key = id(conn)
        with self._lock:
            self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield conn
        finally:
            with self._lock:
                self._busy[key] -= 1

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are zeroed, not left in free space: erasure must not be undone
            # by reading the file (docs/erasure.md).
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._using() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._using() as conn:
            return SqliteTx(conn).execute(sql, params)

    def scrub(self, full: bool = False) -> None:
        """FTS5 indexes keep deleted terms in old segments until merged; VACUUM rewrites the
        file without free pages (written before secure_delete, or by another process); the WAL
        keeps old page images until a checkpoint truncates it."""
        with self._using() as conn:
            self._scrub(conn)

    def _scrub(self, conn: sqlite3.Connection) -> None:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND"
                                    " sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'").fetchall():
            conn.execute(f'INSERT INTO "{name}" ("{name}") VALUES (\'optimize\')')
        conn.execute("VACUUM")
        for _ in range(20):  # readers of an older snapshot hold the WAL: retry briefly
            if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"could not truncate the WAL of {self.path}: readers kept it busy")

    def close(self, grace: float = 5.0) -> None:
        """Close every connection once its statement ends; one still busy after `grace` seconds
        (a thread that outlived its stop) is left to the garbage collector instead."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with self._lock:
                if not any(self._busy.values()):
                    break
            time.sleep(0.01)
        with self._lock:
            for conn in self._all:
                if not self._busy.get(id(conn)):
                    with suppress(sqlite3.ProgrammingError):
                        conn.close()
            self._all.clear()
        self._local = threading.local()


class PostgresDatabase(Database):
    dialect: Dialect = "postgres"

    def __init__(self, url: str, schema: str = "chronicle_read", min_size: int = 2,
                 max_size: int = 10):
        from psycopg_pool import ConnectionPool

        self.url = url
        self.schema = schema
        self._ensure_schema()
        self.pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=True, timeout=10,
            kwargs={"autocommit": True, "options": f"-c search_path={schema},public"},
        )

    def _ensure_schema(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        forbid_blocking()
        with database_required(), self.pool.connection() as conn, conn.transaction():
            yield PostgresTx(conn)

    @contextmanager
    def pipelined(self, durable: bool = True) -> Iterator[Tx]:
        """A transaction whose statements are pipelined: for pages of projection writes.

        `durable=False` skips waiting for the WAL flush: right for read models, which a server
        crash can only roll back together with their position, to be re-applied from the log.
        """
        forbid_blocking()
        with database_required(), self.pool.connection() as conn, conn.transaction(), \
                conn.pipeline() as pipeline:
            tx = PostgresTx(conn, pipeline)
            if not durable:
                tx.execute("SET LOCAL synchronous_commit TO OFF")
            yield tx

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        forbid_blocking()
        with database_required():
            try:
                return self._query(sql, params)
            except Exception as error:
                if not (is_database_away(error) and _is_read(sql)) or never_sent(error):
                    raise  # a pool that timed out has waited long enough
            # After a server restart every idle connection of the pool is dead: drop them and
            # read once more, so a restart costs no failed read once the server is back.
            self.pool.check()
            return self._query(sql, params)

    def _query(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return PostgresTx(conn).execute(sql, params)

    def scrub(self, full: bool = False) -> None:
        """Dead row versions stay in the heap until VACUUM; FULL rewrites the table files.
        (The server's WAL archive and backups are outside our reach: docs/erasure.md.)"""
        with database_required(), self.pool.connection() as conn:
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                  (self.schema,)).fetchall()
            for (table,) in tables:
                conn.execute(f'VACUUM {"FULL " if full else ""}"{self.schema}"."{table}"')

    def close(self) -> None:
        self.pool.close()


def open_database(url: str, sqlite_path: Path, schema: str = "chronicle_read",
                  pool_min: int = 2, pool_max: int = 10) -> Database:
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresDatabase(url, schema=schema, min_size=pool_min, max_size=pool_max)
    return SqliteDatabase(sqlite_path)
