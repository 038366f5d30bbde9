"""What every aggregate module shares: JSON cleaning, epoch seconds and the deleted-state guard."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar


def clean_json(value: Any) -> Any:
    """A deep copy of JSON data without NUL characters (PostgreSQL text rejects them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def epoch(moment: datetime | None) -> int:
    """Whole seconds since 1970 of an event's or aggregate's datetime (the API's timestamps)."""
    assert moment is not None  # the library always sets an event's timestamp
    return int(moment.timestamp())


class DeletedError(ValueError):
    """Base of each aggregate's "command sent to a deleted aggregate" error.

    Each aggregate's own error also subclasses its invariant error, so the application can map
    either one (a deleted aggregate is usually a 404, a broken invariant a 400).
    """


class SoftDeleted:
    """Mixin for an aggregate that is deleted by a flag and refuses commands once deleted.

    The aggregate names its own error type and message; `{0}` in the message is the aggregate.
    """

    deleted: bool
    deleted_error: ClassVar[type[DeletedError]]
    deleted_message: ClassVar[str]

    def _live(self) -> None:
        if self.deleted:
            raise self.deleted_error(self.deleted_message.format(self))
