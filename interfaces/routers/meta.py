"""Health, readiness, version and the public client configuration."""

from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from application.auth import Principal
from application.errors import ApplicationError, Forbidden
from application.messages import Detail
from application.task_models import TASK_DEFAULTS
from domain.directory import DIRECTORY_ID
from interfaces.deps import ContainerDep, VerifiedUser, consistent
from interfaces.schemas.auths import ADMIN_CONFIG_DEFAULTS
from interfaces.schemas.meta import (
    DEFAULT_WEBUI_NAME,
    OPEN_WEBUI_VERSION,
    AppConfigResponse,
    HealthResponse,
    UsageResponse,
    VersionResponse,
)
from interfaces.schemas.users import ACTIVE_WINDOW_SECONDS
from interfaces.services import Config, Sessions, UsagePoolDep, UserDirectory

router = APIRouter()
VERSION = OPEN_WEBUI_VERSION


@router.get("/health", response_model=HealthResponse)
def health() -> dict[str, bool]:
    """Liveness: the process is up."""
    return {"status": True}


@router.get("/health/db", response_model=HealthResponse)
def health_db(container: ContainerDep) -> Any:
    """The read database and the event store answer."""
    if not _database_ok(container):
        return JSONResponse({"detail": Detail.DATABASE_NOT_READY}, status_code=503)
    return {"status": True}


@router.get("/ready", response_model=HealthResponse)
def ready(container: ContainerDep, sessions: Sessions) -> Any:
    """Readiness: databases, Redis and the projections caught up enough to serve."""
    projections = container.host.status()
    if failed := [p for p in projections if p["status"] == "failed"]:
        return JSONResponse({"detail": Detail.PROJECTION_FAILED,
                             "failed": [_failure(p) for p in failed]}, status_code=503)
    if any(p["status"] == "starting" for p in projections):  # still catching up at boot
        return JSONResponse({"detail": Detail.STARTUP_NOT_COMPLETE}, status_code=503)
    if not _database_ok(container):
        return JSONResponse({"detail": Detail.DATABASE_NOT_READY}, status_code=503)
    if container.settings.REDIS_URL and not sessions.ping():
        return JSONResponse({"detail": Detail.REDIS_NOT_READY}, status_code=503)
    return {"status": True}


def _failure(projection: dict[str, Any]) -> dict[str, Any]:
    """Which projector stopped, where (its last applied position), on which event and why."""
    return {"projector": projection["name"], "position": projection["position"],
            "event": projection.get("failed_event"), "error": projection.get("last_error")}


def _database_ok(container: Any) -> bool:
    if not container.read_db.ping():
        return False
    try:
        container.store.head()
        return True
    except Exception:
        return False


@router.get("/api/version", response_model=VersionResponse)
def version() -> dict[str, str]:
    """The Open WebUI version this backend serves."""
    return {"version": VERSION, "deployment_id": ""}


@router.get("/api/version/updates")
def version_updates(principal: VerifiedUser) -> dict[str, str]:
    """The latest release known (the update check is off: this version, as 0.12.4's)."""
    return {"current": VERSION, "latest": VERSION}


@router.get("/api/changelog")
def changelog() -> dict[str, Any]:
    """Release notes by version, as 0.12.4's (none: Chronicle ships no Open WebUI changelog)."""
    return {}


@router.get("/api/usage", response_model=UsageResponse, dependencies=[consistent("users")])
async def usage(principal: VerifiedUser, usage_pool: UsagePoolDep,
                sessions: Sessions, users: UserDirectory) -> dict[str, Any]:
    """Models in use right now and how many users were active in the last three minutes
    (admins only: the public active-user count is off, as 0.12.4's default)."""
    if not principal.is_admin:
        raise Forbidden(Detail.USAGE_ADMINS_ONLY)
    model_ids = await usage_pool.models()
    ids = await anyio.to_thread.run_sync(users.ids)
    seen = await anyio.to_thread.run_sync(sessions.last_active, ids)
    cutoff = time.time() - ACTIVE_WINDOW_SECONDS
    return {"model_ids": model_ids, "user_count": sum(1 for t in seen.values() if t >= cutoff)}


@router.get("/api/config", response_model=AppConfigResponse, response_model_exclude_unset=True)
def config(request: Request, container: ContainerDep, config: Config) -> dict[str, Any]:
    """The web app's startup config: features, defaults, and (signed in) the caller's own."""
    values = {**ADMIN_CONFIG_DEFAULTS, **TASK_DEFAULTS, **config.values()}
    features: dict[str, Any] = {
        "slim": False,
        "auth": True,
        "auth_trusted_header": False,
        "enable_signup_password_confirmation": False,
        "enable_ldap": bool(values.get("ENABLE_LDAP")),
        "enable_signup": bool(values.get("ENABLE_SIGNUP")),
        "enable_login_form": bool(values.get("ENABLE_LOGIN_FORM")),
        "enable_websocket": True,
    }
    body: dict[str, Any] = {
        "status": True,
        "name": container.settings.WEBUI_NAME or DEFAULT_WEBUI_NAME,
        "version": VERSION,
        "default_locale": "",
        "oauth": {"providers": {}},
        "features": features,
    }
    principal = _optional_principal(request, container)
    if principal is None:
        if not container.store.exists(DIRECTORY_ID):
            body["onboarding"] = True
        return body
    features.update(_signed_in_features(values))
    overlay = {"pending_user_overlay_title": values.get("PENDING_USER_OVERLAY_TITLE") or "",
               "pending_user_overlay_content": values.get("PENDING_USER_OVERLAY_CONTENT") or ""}
    if principal.role == "pending":
        body["ui"] = overlay
        return body
    body.update({
        "default_models": values.get("DEFAULT_MODELS") or "",  # the admin's Models settings
        "default_pinned_models": values.get("DEFAULT_PINNED_MODELS") or "",
        "default_prompt_suggestions": values.get("PROMPT_SUGGESTIONS") or [],
        "default_prompt_suggestions_i18n": values.get("PROMPT_SUGGESTIONS_I18N") or {},
        "user_count": container.user_queries.count(),
        "permissions": config.default_permissions(),
        "ui": {**overlay, "response_watermark": values.get("RESPONSE_WATERMARK") or "",
               "default_interface_settings": values.get("DEFAULT_INTERFACE_SETTINGS") or {},
               "visibility": values.get("UI_VISIBILITY") or {}, "iframe_csp": None},
        "license_metadata": None,
        **SWITCHED_OFF_SECTIONS,
        "file": _file_limits(container.retrieval.rag_config()),
    })
    return body


def _file_limits(rag: dict[str, Any]) -> dict[str, Any]:
    """The upload limits the app checks before sending (the server checks them again)."""
    return {"max_size": rag.get("FILE_MAX_SIZE"), "max_count": rag.get("FILE_MAX_COUNT"),
            "image_compression": {"width": rag.get("FILE_IMAGE_COMPRESSION_WIDTH"),
                                  "height": rag.get("FILE_IMAGE_COMPRESSION_HEIGHT")}}


# Out of scope here (see the README's "Out of scope"): the app hides what these switch off.
SWITCHED_OFF_SECTIONS: dict[str, Any] = {
    "i18n": {},
    "code": {"engine": "", "interpreter_engine": ""},
    "audio": {"realtime": {"enabled": False, "model": "", "voice": ""},
              "tts": {"engine": "", "voice": "", "split_on": "punctuation"},
              "stt": {"engine": ""}},
    "google_drive": {"client_id": "", "api_key": ""},
    "onedrive": {"client_id_personal": "", "client_id_business": "", "sharepoint_url": "",
                 "sharepoint_tenant_id": ""},
}


def _signed_in_features(values: dict[str, Any]) -> dict[str, Any]:
    """The 44 `features` keys 0.12.4 sends a signed-in caller: what Chronicle has follows the
    admin's configuration; what it does not have is off, so the web app hides it."""
    def on(key: str) -> bool:
        return bool(values.get(key))

    return {
        "enable_api_keys": on("ENABLE_API_KEYS"),
        "enable_password_change_form": True,
        "enable_version_update_check": False,
        "enable_pyodide_file_persistence": False,
        "enable_public_active_users_count": False,
        "enable_easter_eggs": False,
        "enable_direct_connections": False,
        "enable_direct_integrations": False,
        "enable_plugins": True,  # the Tools workspace (Python tools) lives behind it
        "enable_tools": True,
        "enable_functions": False,
        "enable_tool_servers": False,
        "enable_terminal_servers": False,
        "enable_folders": on("ENABLE_FOLDERS"),
        "folder_max_file_count": values.get("FOLDER_MAX_FILE_COUNT"),
        "enable_channels": False,
        "enable_encrypted_channels": False,
        "enable_apps": False,
        "enable_calendar": False,
        "enable_automations": False,
        "enable_notes": on("ENABLE_NOTES"),
        "enable_context_compaction": False,
        "enable_tool_permissions": False,
        "enable_web_search": False,
        "enable_web_search_confirmation": False,
        "web_search_confirmation_content": "",
        "enable_code_execution": False,
        "enable_code_interpreter": False,
        "enable_image_generation": False,
        "enable_autocomplete_generation": on("ENABLE_AUTOCOMPLETE_GENERATION"),
        "enable_title_generation": on("ENABLE_TITLE_GENERATION"),
        "enable_follow_up_generation": on("ENABLE_FOLLOW_UP_GENERATION"),
        "enable_tags_generation": on("ENABLE_TAGS_GENERATION"),
        "enable_community_sharing": on("ENABLE_COMMUNITY_SHARING"),
        "enable_message_rating": on("ENABLE_MESSAGE_RATING"),
        "enable_user_webhooks": False,
        "enable_user_status": on("ENABLE_USER_STATUS"),
        "enable_admin_export": True,
        "enable_admin_chat_access": True,
        "enable_admin_analytics": False,  # its summary and daily routes are not served yet
        "enable_google_drive_integration": False,
        "enable_onedrive_integration": False,
        "enable_memories": False,
        "enable_subagents": False,
    }


def _optional_principal(request: Request, container: Any) -> Principal | None:
    """Bearer or `token` cookie; a token that does not authenticate counts as anonymous."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    token = token or request.cookies.get("token") or ""
    if not token:
        return None
    try:
        principal: Principal = container.auth.authenticate(token)
    except ApplicationError:
        return None
    return principal
