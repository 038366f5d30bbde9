"""Chat JSON shaped like Open WebUI's client sends it, and small API helpers."""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers import Caller

API = "/api/v1/chats"


def message(mid: str, parent: str | None, content: str, role: str = "user") -> dict[str, Any]:
    return {"id": mid, "parentId": parent, "childrenIds": [], "role": role, "content": content,
            "timestamp": 1700000000}


def chat_doc(title: str, *contents: str, **top: Any) -> dict[str, Any]:
    """A linear chat with one message per content (ids m0, m1, ...)."""
    messages, parent = {}, None
    for index, content in enumerate(contents):
        mid = f"m{index}"
        messages[mid] = message(mid, parent, content, "user" if index % 2 == 0 else "assistant")
        if parent:
            messages[parent]["childrenIds"].append(mid)
        parent = mid
    return {"id": "", "title": title, "models": ["llama3"], "params": {},
            "history": {"messages": messages, "currentId": parent},
            "messages": list(messages.values()), "tags": [], "timestamp": 1700000000000, **top}


def with_message(doc: dict[str, Any], content: str, mid: str | None = None) -> dict[str, Any]:
    """The client's next save: the whole chat plus one message under the current one."""
    mid = mid or f"n{uuid.uuid4().hex[:8]}"
    history = doc["history"]
    history["messages"][mid] = message(mid, history["currentId"], content)
    history["currentId"] = mid
    return doc


def create(client: Any, caller: Caller, title: str = "Chat", *contents: str,
           **form: Any) -> dict[str, Any]:
    r = client.post(f"{API}/new", json={"chat": chat_doc(title, *(contents or ("hello",))),
                                        **form}, headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]
