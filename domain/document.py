"""Checks on the JSON documents clients post: strict JSON cleaning and shape checks.

The helpers raise DocumentError, which belongs to no aggregate: each aggregate that uses them
turns it into its own error, with the same message (Chat into ChatError, Folder into FolderError).
"""

import json
from collections.abc import Mapping
from typing import Any


class DocumentError(ValueError):
    """A client document is not JSON data or not of the shape a command needs."""


def json_data(value: Any) -> Any:
    """Deep copy of JSON-like data with NUL characters removed from strings.

    Copying cuts any aliasing between the caller's objects, event payloads and
    aggregate state; NULs are stripped as Open WebUI does, since PostgreSQL text
    and JSON columns in the read models reject them.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {json_key(k): json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_data(v) for v in value]
    raise DocumentError(f"not JSON data: {type(value).__name__}")


def json_key(key: Any) -> str:
    """An object key as a string, exactly as json.dumps would make it.

    So live state and state replayed from stored events cannot differ.
    """
    if isinstance(key, str):
        return key.replace("\x00", "")
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise DocumentError(f"not a JSON object key: {key!r}")


def json_object(value: Any, what: str) -> dict[str, Any]:
    """`value` as a cleaned JSON object; None is the empty object."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DocumentError(f"{what} must be an object")
    return json_data(dict(value))


def json_list(value: Any, what: str) -> list[Any]:
    """`value` as a list (not cleaned); None is the empty list."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise DocumentError(f"{what} must be a list")
    return list(value)


def optional_str(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise DocumentError(f"{what} must be a string or null")
    return value


def required_str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DocumentError(f"{what} must be a non-empty string")
    return value
