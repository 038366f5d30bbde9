"""How the aggregates' errors reach a client: as the HTTP answers the reference gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from application.errors import BadRequest, NotFound
from application.messages import Detail
from domain.base import DeletedError


@contextmanager
def domain_errors(*invalid: type[ValueError]) -> Iterator[None]:
    """Errors of the `invalid` types become answers: a command sent to a deleted aggregate is
    a 404 (for the caller it is gone), any other broken invariant a 400 with its message."""
    try:
        yield
    except invalid as error:
        if isinstance(error, DeletedError):
            raise NotFound(Detail.NOT_FOUND) from None
        raise BadRequest(Detail.DEFAULT(str(error))) from None
