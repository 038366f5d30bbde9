"""/api/v1/pipelines: Open WebUI pipelines servers are not offered here (see the README's "Out of
scope"). The admin page's list answers 0.12.4's empty state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import AdminUser

router = APIRouter(prefix="/api/v1/pipelines", tags=["pipelines"])


@router.get("/list")
def list_pipeline_servers(principal: AdminUser) -> dict[str, Any]:
    """The connections that are pipelines servers (none)."""
    return {"data": []}
