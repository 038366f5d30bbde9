"""/api/v1/channels: channels are not offered here (see the README's "Out of scope";
`/api/config` switches them off). The app still asks for the list when a channel event it does
not know reaches a socket, so the list answers empty, in 0.12.4's shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import VerifiedUser

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


@router.get("/")
def list_channels(principal: VerifiedUser) -> list[dict[str, Any]]:
    """The channels the caller belongs to (none)."""
    return []
