"""What the chat lists and search read: the parsed search, the list filter, and the read-model
ports the chat, folder and search use cases query (`projections/chats.py` and
`projections/chat_folders.py` implement them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.tags import normalize_tag

MAX_SEARCH_TERMS = 8
FILTER_PREFIXES = ("tag:", "folder:", "pinned:", "archived:", "shared:")
QUOTED = re.compile(r'"([^"]*)"')
WORD = re.compile(r"[^\W_]+")  # a word as both full-text engines tokenise it


@dataclass
class SearchQuery:
    """A parsed search: filters, then free text (prefix words and quoted phrases)."""

    words: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    needle: str = ""  # the whole free text: its exact occurrences rank first
    tags: list[str] = field(default_factory=list)
    folder_ids: list[str] | None = None  # None: no folder filter
    pinned: bool | None = None
    archived: bool | None = None
    shared: bool | None = None


@dataclass
class ListFilter:
    """Which of a user's chats a list shows, and in which order (defaults: the unarchived)."""

    include_pinned: bool = True
    include_folders: bool = True
    archived: bool | None = False  # None: both
    query: str | None = None  # title contains
    order_by: str = "updated_at"
    direction: str = "desc"




class ChatsReadModel(Protocol):
    def page(self, user_id: str | None, flt: ListFilter, offset: int = 0,
             limit: int | None = None) -> list[dict[str, Any]]: ...

    def pinned(self, user_id: str) -> list[dict[str, Any]]: ...

    def in_folders(self, user_id: str, folder_ids: list[str]) -> list[dict[str, Any]]: ...

    def filed_in(self, user_id: str, folder_ids: list[str]) -> list[str]: ...

    def ids(self, user_id: str, archived: bool | None = None) -> list[str]: ...

    def by_share_id(self, share_id: str) -> dict[str, Any] | None: ...

    def trash(self, user_id: str | None, after: int, offset: int,
              limit: int) -> list[dict[str, Any]]: ...

    def tags(self, user_id: str) -> list[str]: ...

    def by_tag(self, user_id: str, tag: str, offset: int, limit: int) -> list[dict[str, Any]]: ...

    def search(self, user_id: str, query: SearchQuery, offset: int,
               limit: int) -> list[dict[str, Any]]: ...


class FoldersReadModel(Protocol):
    def of_user(self, user_id: str) -> list[dict[str, Any]]: ...

    def sibling_named(self, user_id: str, parent_id: str | None, name: str) -> str | None: ...

    def named(self, user_id: str, names: list[str]) -> list[str]: ...

    def subtree(self, user_id: str, folder_id: str) -> list[str]: ...


def _flag(values: list[str]) -> bool | None:
    if "true" in values:
        return True
    return False if "false" in values else None


def parse_search(text: str, folder_ids: Callable[[list[str]], list[str]]) -> SearchQuery:
    """Open WebUI's search syntax: tag:/folder:/pinned:/archived:/shared: filters, then free
    text; quoted parts must match as phrases, other words as word prefixes."""
    tokens = text.replace("\x00", "").lower().split()
    values = {p: [t[len(p):] for t in tokens if t.startswith(p)] for p in FILTER_PREFIXES}
    free = " ".join(t for t in tokens if not t.startswith(FILTER_PREFIXES))
    phrases = [p for p in (WORD.findall(q) for q in QUOTED.findall(free)) if p]
    words = list(dict.fromkeys(WORD.findall(QUOTED.sub(" ", free))))
    names = values["folder:"]
    return SearchQuery(
        words=words[:MAX_SEARCH_TERMS], phrases=phrases[:MAX_SEARCH_TERMS],
        needle=" ".join(free.replace('"', " ").split()),
        tags=[normalize_tag(t) for t in values["tag:"] if normalize_tag(t)],
        folder_ids=folder_ids(names) if names else None,
        pinned=_flag(values["pinned:"]), archived=_flag(values["archived:"]),
        shared=_flag(values["shared:"]))
