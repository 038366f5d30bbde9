"""Operator endpoints: projection status (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import AdminUser, ContainerDep

router = APIRouter(prefix="/api/v1/system", tags=["system"])


@router.get("/projections")
def projections(principal: AdminUser, container: ContainerDep) -> list[dict[str, Any]]:
    """Every projection's position and lag behind the log (admins)."""
    return container.host.status()
