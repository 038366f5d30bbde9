"""Model bodies as the Open WebUI frontend sends them, and small API helpers."""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers import Caller

API = "/api/v1/models"
PNG_1PX = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
           "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def model_form(model_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": model_id or f"m-{uuid.uuid4().hex[:10]}", "name": "Helper",
        "base_model_id": "llama3:8b",
        "meta": {"description": "A helpful model", "tags": [{"name": "Work"}],
                 "capabilities": {"vision": True}},
        "params": {"system": "You are helpful.", "temperature": 0.2},
        "access_control": {},
    }
    return {**body, **overrides}


def create(client: Any, caller: Caller, model_id: str | None = None,
           **overrides: Any) -> dict[str, Any]:
    r = client.post(f"{API}/create", json=model_form(model_id, **overrides),
                    headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


def seen(client: Any, caller: Caller) -> dict[str, str]:
    """The caller's headers, asking reads to include every write so far (anyone's).

    Read-your-writes covers a caller's own writes; tests that read what *another* user just
    wrote name the log position, as a client that was told about the change would."""
    head = client.app.state.container.store.head()
    return {**caller.headers, "X-Chronicle-Min-Position": str(head)}


def listing(client: Any, caller: Caller, **params: Any) -> dict[str, Any]:
    r = client.get(f"{API}/list", params=params, headers=seen(client, caller))
    assert r.status_code == 200, r.text
    return r.json()


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


def share(read_users: list[str] = (), write_users: list[str] = (), read_groups: list[str] = (),
          write_groups: list[str] = ()) -> dict[str, Any]:
    return {"read": {"user_ids": list(read_users), "group_ids": list(read_groups)},
            "write": {"user_ids": list(write_users), "group_ids": list(write_groups)}}


class StaticGroups:
    """The GroupMembership port with fixed memberships (groups do not exist yet)."""

    def __init__(self, members: dict[str, list[str]]):
        self.members = members

    def group_ids(self, user_id: str) -> list[str]:
        return self.members.get(user_id, [])


def deep(levels: int) -> list[Any]:
    """A JSON array nested `levels` deep."""
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value
