"""/api/events: 0.12.4's catalogue of outgoing event webhooks. Chronicle sends no webhooks (see the
README's "Out of scope"): the catalogue and the webhook list answer empty, so the admin page
shows nothing to configure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import AdminUser
from interfaces.schemas.meta import OPEN_WEBUI_VERSION

router = APIRouter(prefix="/api/events", tags=["events"])


@router.get("")
def event_catalog(principal: AdminUser) -> dict[str, Any]:
    """The event types a webhook may subscribe to (none here)."""
    return {"schema": OPEN_WEBUI_VERSION, "events": []}


@router.get("/webhooks")
def event_webhooks(principal: AdminUser) -> list[dict[str, Any]]:
    """The configured event webhooks (none here)."""
    return []
