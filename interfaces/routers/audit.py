"""/api/v1/audit: history, time travel and diffs of any aggregate; log-wide and sign-in queries.

Admins, and users an admin made auditors. Secrets (password and key hashes, session stamps) are
redacted everywhere; an erased user's events show as tombstones (metadata only).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from application.audit import MAX_PAGE, AuditService, Kind
from application.auth import Principal
from interfaces import bounds
from interfaces.deps import AdminUser, CurrentUser, Write, Written, consistent
from interfaces.schemas.audit import (
    AuditDiff,
    AuditEventsPage,
    AuditLogPage,
    Auditors,
    AuditState,
    Order,
    SignInPage,
    state_view,
)
from interfaces.services import Audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
INDEXED = consistent("audit_log")

Page = Annotated[bounds.Page, Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Version = Annotated[bounds.Version | None, Query()]
Cursor = Annotated[bounds.Position | None, Query(description="a page's `next_cursor`")]
Epoch = Annotated[float | None, Query(ge=0, le=1e11, description="epoch seconds")]


def _filters(actor_id: str | None, event_type: str | None, since: float | None,
             until: float | None, cursor: int | None, order: str, limit: int) -> dict[str, Any]:
    return {"actor": actor_id, "event_type": event_type, "since": since, "until": until,
            "cursor": cursor, "descending": order == "desc", "limit": limit}


@router.get("/events", response_model=AuditLogPage, dependencies=[INDEXED])
async def search_log(principal: CurrentUser, audit: Audit,
                     actor_id: str | None = None, kind: Kind | None = None,
                     type: Annotated[str | None, Query(max_length=200)] = None,
                     since: Epoch = None, until: Epoch = None,
                     cursor: Cursor = None,
                     order: Order = "desc", limit: Limit = 50) -> dict[str, Any]:
    """Every recorded event, filtered by actor, aggregate kind, event type and time range."""
    filters = _filters(actor_id, type, since, until, cursor, order, limit)
    return await anyio.to_thread.run_sync(lambda: audit.search(
        principal, kind=kind.value if kind else None, **filters))


@router.get("/signins", response_model=SignInPage, dependencies=[INDEXED])
async def signins(principal: CurrentUser, audit: Audit,
                  actor_id: str | None = None,
                  type: Annotated[str | None, Query(max_length=200)] = None,
                  since: Epoch = None, until: Epoch = None,
                  cursor: Cursor = None,
                  order: Order = "desc", limit: Limit = 50) -> dict[str, Any]:
    """Sign-ins, failed sign-ins (with the reason) and sign-outs."""
    filters = _filters(actor_id, type, since, until, cursor, order, limit)
    return await anyio.to_thread.run_sync(lambda: audit.signins(principal, **filters))


@router.get("/auditors", response_model=Auditors)
def auditors(principal: AdminUser, audit: Audit) -> dict[str, Any]:
    """The users allowed to read others' audit trails (admins)."""
    return {"auditors": audit.auditors()}


def _set_auditor(user_id: str, principal: Principal, audit: AuditService, written: Written,
                 granted: bool) -> dict[str, Any]:
    outcome = audit.set_auditor(principal, user_id, granted)
    written(outcome.position)
    return {"auditors": outcome.value}


@router.post("/auditors/{user_id}", response_model=Auditors)
def grant(user_id: str, principal: AdminUser, audit: Audit, written: Write) -> dict[str, Any]:
    """Let a user read others' audit trails (admins)."""
    return _set_auditor(user_id, principal, audit, written, True)


@router.delete("/auditors/{user_id}", response_model=Auditors)
def revoke(user_id: str, principal: AdminUser, audit: Audit, written: Write) -> dict[str, Any]:
    """Take back a user's audit access (admins)."""
    return _set_auditor(user_id, principal, audit, written, False)


@router.get("/{kind}/{id}/events", response_model=AuditEventsPage)
def events(kind: Kind, id: str, principal: CurrentUser, audit: Audit,
           page: Page = 1, limit: Limit = 50) -> dict[str, Any]:
    """The aggregate's events in order (by version), paged."""
    return audit.events(principal, kind, id, page, limit)


@router.get("/{kind}/{id}/state", response_model=AuditState, dependencies=[INDEXED])
def state(kind: Kind, id: str, principal: CurrentUser, audit: Audit,
          version: Version = None, at: Epoch = None) -> Response:
    """The aggregate as it was at `version`, or at time `at` (default: now)."""
    as_of = audit.state(principal, kind, id, version, at)
    exists = as_of.aggregate is not None
    # Serialised directly: a long chat is a megabyte of JSON that needs no validation.
    return JSONResponse({"aggregate_id": str(as_of.aggregate_id), "kind": kind.value, "id": id,
                         "version": as_of.version, "timestamp": as_of.timestamp,
                         "exists": exists,
                         "state": state_view(kind, as_of.aggregate) if exists else None})


@router.get("/{kind}/{id}/diff", response_model=AuditDiff)
def diff(kind: Kind, id: str, principal: CurrentUser, audit: Audit,
         from_version: Annotated[bounds.Version, Query()], to_version: Version = None) -> Response:
    """What changed between two versions (default: up to now), as events and a JSON Patch."""
    target = to_version or audit.latest(principal, kind, id)
    return JSONResponse(audit.diff(principal, kind, id, from_version, target,
                                   lambda aggregate: state_view(kind, aggregate)))
