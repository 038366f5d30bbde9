"""Response of GET /api/v1/search (0.12.4's SearchResponse)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class SearchResult(BaseModel):
    id: str  # "<source>:<id>", e.g. "chat:…"
    kind: Literal["chat", "message", "note"]
    title: str
    context: str  # the folder's name, or "Personal chat"
    snippet: str
    preview: str
    url: str  # where the app opens it, e.g. "/c/<chat id>"
    updated_at: int
    shared: bool = False
    pinned: bool = False


class SearchScope(BaseModel):
    id: str  # "folder:<id>"
    name: str
    kind: Literal["folder", "channel"]


class SearchResponse(BaseModel):
    items: list[SearchResult]
    has_more: bool
    scopes: list[SearchScope]
    kinds: list[str]
