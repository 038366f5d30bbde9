"""Ids as clients send them: any string, of which only some name an aggregate."""

from __future__ import annotations

import uuid


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID `value` spells, or None (a client's bad id is "no such thing", never a 500)."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
