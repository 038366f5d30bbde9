"""Which database errors mean "the database is away", and how adapters report them.

A lost connection, a server shutting down or starting up, a refused connect or an exhausted pool
says nothing about the request and is no bug: the adapters (`sql.py`, `event_store.py`,
`pg_recorder.py`) raise `application.errors.Unavailable` instead, which the web layer answers
with 503 and `Retry-After` (interfaces/errors.py). Everything else keeps its own meaning.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import PoolTimeout

from application.errors import Unavailable

F = TypeVar("F", bound=Callable[..., Any])

# SQLSTATE classes and codes of a server that is going or not there yet: 08 connection
# exception, 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 53300 too
# many connections.
_AWAY_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")


def is_database_away(error: BaseException | None) -> bool:
    """Whether `error`, or what it wraps (the eventsourcing library re-raises psycopg's errors
    as its own, `from` the original), says the database cannot be reached right now."""
    for _ in range(5):  # a short chain: driver error, library wrapper, ours
        if error is None:
            return False
        if isinstance(error, Unavailable):
            return True
        if isinstance(error, psycopg.Error):
            return _psycopg_away(error)
        error = error.__cause__
    return False


def _psycopg_away(error: psycopg.Error) -> bool:
    if isinstance(error, PoolTimeout):
        return True
    state = error.sqlstate
    if state is None:
        # No SQLSTATE: libpq's own verdict on the socket ("server closed the connection
        # unexpectedly", "connection refused", "the connection is closed"). A bare
        # DatabaseError is what a lost connection gives a pipelined or prepared call.
        return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError) or \
            type(error) is psycopg.DatabaseError
    return state.startswith(_AWAY_PREFIXES)


def is_read_model_missing(error: BaseException) -> bool:
    """Whether a query met a table that does not exist: on a read model, its projector has not
    built it yet (first start) — the server is starting, not broken."""
    if isinstance(error, psycopg.errors.UndefinedTable):
        return True
    return isinstance(error, sqlite3.OperationalError) and str(error).startswith("no such table")


def never_sent(error: BaseException) -> bool:
    """Whether the statement certainly never reached the server (no connection was handed out)."""
    current: BaseException | None = error
    for _ in range(5):
        if current is None or isinstance(current, PoolTimeout):
            break
        current = current.__cause__
    return isinstance(current, PoolTimeout)


@contextmanager
def database_required(detail: str = Unavailable.DATABASE) -> Iterator[None]:
    """Turn "the database is away" into `Unavailable`; let every other error through."""
    try:
        yield
    except Unavailable:
        raise
    except Exception as error:
        if is_database_away(error):
            raise Unavailable(detail) from error
        raise


def needs_database(function: F) -> F:
    """`database_required` around a whole function (a bare try: free unless it raises, and
    the event store's `get` runs in every command)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Unavailable:
            raise
        except Exception as error:
            if is_database_away(error):
                raise Unavailable() from error
            raise

    return wrapper  # type: ignore[return-value]
