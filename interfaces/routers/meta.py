"""Health, readiness, version and the public client configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from interfaces.deps import ContainerDep

router = APIRouter()
VERSION = "0.12.4"


@router.get("/health")
def health() -> dict[str, bool]:
    return {"status": True}


@router.get("/health/db")
def health_db(container: ContainerDep) -> JSONResponse:
    ok = container.read_db.ping() and _store_ok(container)
    return JSONResponse({"status": ok}, status_code=200 if ok else 503)


@router.get("/ready")
def ready(container: ContainerDep) -> JSONResponse:
    projections = container.host.status()
    failed = [p["name"] for p in projections if p["status"] == "failed"]
    ok = container.read_db.ping() and _store_ok(container) and not failed
    body: dict[str, Any] = {"status": ok, "failed_projections": failed}
    return JSONResponse(body, status_code=200 if ok else 503)


def _store_ok(container: Any) -> bool:
    try:
        container.store.head()
        return True
    except Exception:
        return False


@router.get("/api/version")
def version() -> dict[str, str]:
    return {"version": VERSION, "deployment_id": ""}


@router.get("/api/config")
def config(container: ContainerDep) -> dict[str, Any]:
    from domain.directory import DIRECTORY_ID

    values = container.config.values()
    onboarding = not container.store.exists(DIRECTORY_ID)
    return {
        "status": True,
        "name": container.settings.WEBUI_NAME,
        "version": VERSION,
        "default_locale": "",
        "oauth": {"providers": {}},
        "features": {
            "auth": True,
            "auth_trusted_header": False,
            "enable_signup": bool(values.get("ENABLE_SIGNUP")),
            "enable_login_form": True,
            "enable_api_keys": bool(values.get("ENABLE_API_KEYS")),
            "enable_ldap": bool(values.get("ENABLE_LDAP")),
            "enable_websocket": True,
            "enable_version_update_check": False,
        },
        "onboarding": onboarding,
    }
