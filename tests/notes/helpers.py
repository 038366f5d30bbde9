"""Note bodies as the Open WebUI frontend sends them, and small API helpers."""

from __future__ import annotations

from typing import Any

from tests.helpers import Caller

API = "/api/v1/notes"


def grants(read: tuple[str, ...] = (), write: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """0.12.4's access_grants: write grants come with read, as the app sends them."""
    return ([{"principal_type": "user", "principal_id": u, "permission": "read"}
             for u in (*read, *write)]
            + [{"principal_type": "user", "principal_id": u, "permission": "write"} for u in write])


def note_form(title: str = "Plan", md: str = "hello world", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": title,
                            "data": {"content": {"json": None, "html": f"<p>{md}</p>", "md": md}},
                            "meta": None, "access_grants": []}
    return {**body, **overrides}


def create(client: Any, caller: Caller, title: str = "Plan", md: str = "hello world",
           **overrides: Any) -> dict[str, Any]:
    r = client.post(f"{API}/create", json=note_form(title, md, **overrides), headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


def seen(client: Any, caller: Caller) -> dict[str, str]:
    """The caller's headers, asking reads to include every write so far (anyone's)."""
    head = client.app.state.container.store.head()
    return {**caller.headers, "X-Chronicle-Min-Position": str(head)}


def share(client: Any, owner: Caller, note_id: str, read: tuple[str, ...] = (),
          write: tuple[str, ...] = ()) -> dict[str, Any]:
    r = client.post(f"{API}/{note_id}/access/update",
                    json={"access_grants": grants(read, write)}, headers=owner.headers)
    assert r.status_code == 200, r.text
    return r.json()


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]
