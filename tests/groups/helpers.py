"""Small API helpers for the groups suites."""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers import Caller
from tests.models.helpers import seen

API = "/api/v1/groups"


def make_group(client: Any, admin: Caller, name: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": name or f"g-{uuid.uuid4().hex[:8]}", "description": "d", **fields}
    r = client.post(f"{API}/create", json=body, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()


def caught_up(client: Any) -> None:
    """Wait until the groups read model holds every write so far. Reads wait by themselves (the
    client names a position); a command's access check asks the read model as it stands."""
    container = client.app.state.container
    assert container.host.wait(["groups"], container.store.head(), 10.0)


def add(client: Any, admin: Caller, group_id: str, *users: Caller | str) -> dict[str, Any]:
    ids = [u if isinstance(u, str) else u.id for u in users]
    r = client.post(f"{API}/id/{group_id}/users/add", json={"user_ids": ids}, headers=admin.headers)
    assert r.status_code == 200, r.text
    caught_up(client)
    return r.json()


def remove(client: Any, admin: Caller, group_id: str, *users: Caller | str) -> dict[str, Any]:
    ids = [u if isinstance(u, str) else u.id for u in users]
    r = client.post(f"{API}/id/{group_id}/users/remove", json={"user_ids": ids},
                    headers=admin.headers)
    assert r.status_code == 200, r.text
    caught_up(client)
    return r.json()


def my_groups(client: Any, caller: Caller, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/users/groups", params=params, headers=seen(client, caller))
    assert r.status_code == 200, r.text
    return list(r.json())


def group_ids_of(client: Any, caller: Caller) -> set[str]:
    return {g["id"] for g in my_groups(client, caller)}
