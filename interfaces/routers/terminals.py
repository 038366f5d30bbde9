"""/api/v1/terminals: terminal servers are not offered here (see the README's "Out of scope";
/api/config switches them off). The list answers empty, as 0.12.4's without tool servers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import VerifiedUser

router = APIRouter(prefix="/api/v1/terminals", tags=["terminals"])


@router.get("/")
def list_terminal_servers(principal: VerifiedUser) -> list[dict[str, Any]]:
    """The terminal servers the caller may use (none)."""
    return []
