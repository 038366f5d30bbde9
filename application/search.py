"""Global search (0.12.4's /api/v1/search): one ranked, paged list over what the caller may see.

Chronicle searches the caller's chats (their titles and messages, through the chats read model's
full-text index); chats are private to their owner here, so a caller never finds another user's
chat. Scopes are the caller's folders. Channel messages are out of scope; notes join `kinds` when
their search is wired in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.auth import Principal
from application.chat_queries import ChatsReadModel, FoldersReadModel, parse_search

PAGE_SIZE = 24  # as 0.12.4
Row = dict[str, Any]


@dataclass(frozen=True)
class SearchRequest:
    query: str = ""
    kind: str = "all"  # all | chat | message | note
    sharing: str = "all"  # all | mine | shared
    scope: str = ""  # "" | "folder:<id>" | "channel:<id>"
    page: int = 1


class WorkspaceSearch:
    kinds = ("chat",)

    def __init__(self, chats: ChatsReadModel, folders: FoldersReadModel):
        self.chats = chats
        self.folders = folders

    def search(self, principal: Principal, request: SearchRequest) -> dict[str, Any]:
        folders = self.folders.of_user(principal.id)
        names = {f["id"]: f["name"] for f in folders}
        scopes = sorted(({"id": f"folder:{f['id']}", "name": f["name"], "kind": "folder"}
                         for f in folders), key=lambda s: (s["kind"], s["name"].lower(), s["id"]))
        empty = {"items": [], "has_more": False, "scopes": scopes, "kinds": list(self.kinds)}
        if request.scope and request.scope not in {s["id"] for s in scopes}:
            return empty
        if request.kind not in ("all", "chat") or request.sharing == "shared":
            return empty  # no channels or notes here; nobody shares live chats with the caller
        query = parse_search(request.query, lambda wanted: self.folders.named(principal.id, wanted))
        if request.scope:
            query.folder_ids = self.folders.subtree(principal.id, request.scope[len("folder:"):])
        offset = (request.page - 1) * PAGE_SIZE
        rows = self.chats.search(principal.id, query, offset, PAGE_SIZE + 1)
        items = [_chat_result(row, names) for row in rows[:PAGE_SIZE]]
        return {**empty, "items": items, "has_more": len(rows) > PAGE_SIZE}


def _chat_result(row: Row, folder_names: dict[str, str]) -> Row:
    snippet = row.get("snippet") or ""
    return {"id": f"chat:{row['id']}", "kind": "chat", "title": row.get("title") or "Untitled",
            "context": folder_names.get(row.get("folder_id") or "", "Personal chat"),
            "snippet": snippet, "preview": snippet, "url": f"/c/{row['id']}",
            "updated_at": row["updated_at"], "shared": bool(row.get("share_id")),
            "pinned": bool(row.get("pinned"))}
