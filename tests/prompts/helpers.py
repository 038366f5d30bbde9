"""Prompt bodies as the Open WebUI web app sends them, and small API helpers."""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers import Caller
from tests.models.helpers import seen

API = "/api/v1/prompts"


def command() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def prompt_form(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"command": command(), "name": "Summarise", "content": "Summarise {{x}}",
                            "tags": ["writing"], "access_grants": []}
    return {**body, **overrides}


def create(client: Any, caller: Caller, **overrides: Any) -> dict[str, Any]:
    r = client.post(f"{API}/create", json=prompt_form(**overrides), headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


def update(client: Any, caller: Caller, prompt: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {k: prompt[k] for k in ("command", "name", "content", "tags")}
    r = client.post(f"{API}/id/{prompt['id']}/update", json={**body, **changes},
                    headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


def get(client: Any, caller: Caller, path: str, **params: Any) -> Any:
    """A GET that sees every write so far (anyone's), answered 200."""
    r = client.get(f"{API}{path}", params=params, headers=seen(client, caller))
    assert r.status_code == 200, r.text
    return r.json()


def user_grant(user_id: str, permission: str = "read") -> dict[str, str]:
    return {"principal_type": "user", "principal_id": user_id, "permission": permission}
