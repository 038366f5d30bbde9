"""/api/v1/functions: server-side functions (pipes, filters, actions) are not offered here (see the
README's "Out of scope"; /api/config switches them off). The lists the web app reads answer
empty, as 0.12.4's do with ENABLE_FUNCTIONS off."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import AdminUser, VerifiedUser

router = APIRouter(prefix="/api/v1/functions", tags=["functions"])


@router.get("/")
def list_functions(principal: VerifiedUser) -> list[dict[str, Any]]:
    """The functions every chat may use (none)."""
    return []


@router.get("/list")
def list_functions_admin(principal: AdminUser) -> list[dict[str, Any]]:
    """The functions with their owners, for the admin page (none)."""
    return []


@router.get("/export")
def export_functions(principal: AdminUser) -> list[dict[str, Any]]:
    """Every function, for export (none)."""
    return []
