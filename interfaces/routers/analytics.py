"""/api/v1/analytics: replies and tokens per model and per user (admins, as 0.12.4), from the
usage read model of web-app replies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from interfaces.bounds import Epoch
from interfaces.deps import AdminUser, consistent
from interfaces.services import UsageAnalytics

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
USAGE = consistent("usage")


Usage = UsageAnalytics
Since = Annotated[Epoch | None, Query(description="Start timestamp (epoch)")]
Until = Annotated[Epoch | None, Query(description="End timestamp (epoch)")]


@router.get("/models", dependencies=[USAGE])
def model_analytics(principal: AdminUser, usage: Usage, start_date: Since = None,
                    end_date: Until = None) -> dict[str, Any]:
    """Replies per model."""
    return {"models": usage.models(start_date, end_date)}


@router.get("/tokens", dependencies=[USAGE])
def token_usage(principal: AdminUser, usage: Usage, start_date: Since = None,
                end_date: Until = None) -> dict[str, Any]:
    """Tokens per model, and the totals."""
    return usage.tokens(start_date, end_date)


@router.get("/users", dependencies=[USAGE])
def user_analytics(principal: AdminUser, usage: Usage, start_date: Since = None,
                   end_date: Until = None,
                   limit: Annotated[int, Query(ge=1, le=1_000)] = 50,
                   metric: Literal["messages", "tokens"] = "messages") -> dict[str, Any]:
    """Replies and tokens per user, with their name and e-mail."""
    return {"users": usage.by_user(start_date, end_date, limit, metric)}
