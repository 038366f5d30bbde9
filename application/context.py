"""Who is acting and why: carried into every recorded event's metadata."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: str | None
    correlation_id: str

    @staticmethod
    def system(reason: str = "system") -> Actor:
        return Actor(user_id=None, correlation_id=f"{reason}-{uuid.uuid4().hex[:12]}")


_current: ContextVar[Actor | None] = ContextVar("chronicle_actor", default=None)
_UNATTRIBUTED = Actor(user_id=None, correlation_id="system")


def current_actor() -> Actor:
    """The acting user; code outside any request or job acts as the system."""
    actor = _current.get()
    return actor if actor is not None else _UNATTRIBUTED


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def set_actor(actor: Actor) -> None:
    """For request middleware, whose context ends with the request."""
    _current.set(actor)
