"""The layout of the client's chat JSON: which keys the Chat aggregate models and how it reads them.

Errors are DocumentError (domain/document.py); the Chat aggregate turns them into ChatError.
"""

from collections.abc import Mapping
from typing import Any

from domain.chat_history import Messages, history_from_linear
from domain.document import DocumentError

DEFAULT_TITLE = "New Chat"
ORIGINAL_CHAT_KEY = "originalChatId"
BRANCH_POINT_KEY = "branchPointMessageId"
ORIGIN_KEYS = (ORIGINAL_CHAT_KEY, BRANCH_POINT_KEY)
# Top-level chat JSON keys the aggregate models itself; every other key is a "field".
MODELLED_KEYS = frozenset({"id", "title", "history", "messages", "tags", *ORIGIN_KEYS})


def parse_title(value: Any) -> str:
    """The chat's title; missing or empty is Open WebUI's default title."""
    if value is None or value == "":
        return DEFAULT_TITLE
    if not isinstance(value, str):
        raise DocumentError("title must be a string")
    return value.replace("\x00", "") or DEFAULT_TITLE


def parse_history(doc: Mapping[str, Any]) -> tuple[Messages, str | None] | None:
    """(messages, currentId) carried by a chat document, or None if it carries none."""
    history = doc.get("history")
    if history is None:
        legacy = doc.get("messages")
        # Chats exported by old Open WebUI versions only have the linear list.
        if isinstance(legacy, list) and legacy:
            if not all(isinstance(m, dict) for m in legacy):
                raise DocumentError("messages must be a list of objects")
            return history_from_linear(legacy)
        return None
    if not isinstance(history, dict):
        raise DocumentError("history must be an object")
    messages = history.get("messages") or {}
    if not isinstance(messages, dict) or not all(isinstance(m, dict) for m in messages.values()):
        raise DocumentError("history.messages must map message ids to objects")
    current = history.get("currentId")
    return messages, current if isinstance(current, str) else None


def parse_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level keys the aggregate does not model, kept as they are."""
    return {k: v for k, v in doc.items() if k not in MODELLED_KEYS}


def parse_origin(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where a cloned chat branched off (originalChatId, branchPointMessageId), if anywhere."""
    origin = {k: doc[k] for k in ORIGIN_KEYS if doc.get(k) is not None}
    return origin or None
