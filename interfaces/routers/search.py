"""/api/v1/search: the web app's search dialog (0.12.4's global search), over the read models."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from application.search import SearchRequest
from interfaces.deps import VerifiedUser, consistent
from interfaces.schemas.search import SearchResponse
from interfaces.services import Search

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get("", response_model=SearchResponse, dependencies=[consistent("chats", "folders")])
def search(principal: VerifiedUser, search: Search,
           q: Annotated[str, Query(max_length=500)] = "",
           kind: Literal["all", "chat", "message", "note"] = "all",
           sharing: Literal["all", "mine", "shared"] = "all",
           scope: Annotated[str, Query(max_length=200)] = "",
           page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> dict[str, Any]:
    """Chats (titles and messages) the caller may see matching the words, ranked and paged."""
    return search.search(principal, SearchRequest(query=q, kind=kind, sharing=sharing,
                                                  scope=scope, page=page))
