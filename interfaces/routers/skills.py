"""/api/v1/skills: skills are not offered here (see the README's "Out of scope"). The lists the
workspace reads answer empty, in 0.12.4's shapes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import VerifiedUser

router = APIRouter(prefix="/api/v1/skills", tags=["skills"])


@router.get("/")
def list_skills(principal: VerifiedUser) -> list[dict[str, Any]]:
    """The skills the caller may use (none)."""
    return []


@router.get("/list")
def list_skills_page(principal: VerifiedUser) -> dict[str, Any]:
    """One page of the skills the caller may see (none)."""
    return {"items": [], "total": 0}
