"""Helpers for API tests: sign people up with the roles a test needs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Caller:
    id: str
    email: str
    token: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signup(client: Any, name: str = "User", email: str | None = None,
           password: str = "correct horse") -> Caller:
    email = email or f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    r = client.post("/api/v1/auths/signup", json={"name": name, "email": email,
                                                  "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    return Caller(body["id"], body["email"], body["token"], body["role"])


def set_role(client: Any, admin: Caller, user: Caller, role: str) -> Caller:
    r = client.post(f"/api/v1/users/{user.id}/update", json={"role": role}, headers=admin.headers)
    assert r.status_code == 200, r.text
    user.role = role
    return user


@dataclass
class Cast:
    admin: Caller
    user: Caller
    other: Caller
    pending: Caller

    def all(self) -> dict[str, dict[str, str] | None]:
        return {"anonymous": None, "pending": self.pending.headers, "user": self.user.headers,
                "other": self.other.headers, "admin": self.admin.headers}


def cast(client: Any) -> Cast:
    """First signup is the admin; then a user, another user and a pending user."""
    admin = signup(client, "Admin")
    assert admin.role == "admin"
    user = set_role(client, admin, signup(client, "Alice"), "user")
    other = set_role(client, admin, signup(client, "Bob"), "user")
    pending = signup(client, "Pat")
    assert pending.role == "pending"
    return Cast(admin, user, other, pending)


@contextmanager
def lagging(container: Any, projector: str, seconds: float = 0.3) -> Iterator[None]:
    """While inside, the named projector waits `seconds` before each page: its read model lags
    the log, as on a busy deployment."""
    runner = container.host.runners[projector]
    step = runner.step

    def slow_step() -> int:
        time.sleep(seconds)
        return int(step())

    runner.step = slow_step
    try:
        yield
    finally:
        runner.step = step
