"""/api/v1/evaluations: arena models are not offered here (see the README's "Out of scope"). The
admin page's settings read 0.12.4's empty state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import AdminUser

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])


@router.get("/config")
def evaluations_config(principal: AdminUser) -> dict[str, Any]:
    """The arena settings (off, no arena models)."""
    return {"ENABLE_EVALUATION_ARENA_MODELS": False, "EVALUATION_ARENA_MODELS": []}
