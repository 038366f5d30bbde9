"""Open WebUI's tag ids: how a tag name the client sends becomes the tag stored and searched for."""

from collections.abc import Iterable
from typing import Any

from domain.document import DocumentError


def normalize_tag(name: str) -> str:
    """Open WebUI's tag id for a tag name: lower-case, spaces as underscores."""
    return name.replace("\x00", "").strip().replace(" ", "_").lower()


def normalize_tags(values: Iterable[Any]) -> list[str]:
    """Tag ids for tag names (or legacy `{"name": ...}` objects), deduplicated in order."""
    tags: list[str] = []
    for value in values:
        name = value.get("name") if isinstance(value, dict) else value
        if not isinstance(name, str):
            raise DocumentError("tag names must be strings")
        tag = normalize_tag(name)
        # Open WebUI never stores a tag called "none" (it means "no tag" in its UI).
        if tag and tag != "none" and tag not in tags:
            tags.append(tag)
    return tags
