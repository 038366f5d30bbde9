"""Responses of /health, /health/db, /ready, /api/version and /api/config (all anonymous)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

OPEN_WEBUI_VERSION = "0.12.4"  # what /api/version and /api/config report (client compatibility)
DEFAULT_WEBUI_NAME = "Open WebUI"  # reference default of WEBUI_NAME


class HealthResponse(BaseModel):
    """/health, /health/db and /ready on success: ``{"status": true}``."""

    status: bool = True


class VersionResponse(BaseModel):
    version: str = OPEN_WEBUI_VERSION
    deployment_id: str = ""


class AppConfigOAuth(BaseModel):
    providers: dict[str, str] = Field(default_factory=dict)  # provider id → display name


class AppConfigFeatures(BaseModel):
    """``features`` of /api/config: eight keys before sign-in, the 52 of 0.12.4 after it (any
    role; interfaces/routers/meta.py lists them). Dumped with ``exclude_unset``."""

    model_config = ConfigDict(extra="allow")

    slim: bool = False
    auth: bool = True
    auth_trusted_header: bool = False
    enable_signup_password_confirmation: bool = False
    enable_ldap: bool = False
    enable_api_keys: bool = False
    enable_signup: bool = True
    enable_login_form: bool = True
    enable_websocket: bool = True
    enable_version_update_check: bool = False
    enable_public_active_users_count: bool = False
    enable_easter_eggs: bool = False
    # authenticated callers only
    enable_direct_connections: bool | None = None
    enable_folders: bool | None = None
    folder_max_file_count: int | str | None = None
    enable_channels: bool | None = None
    enable_notes: bool | None = None
    enable_memories: bool | None = None
    enable_web_search: bool | None = None
    enable_code_execution: bool | None = None
    enable_code_interpreter: bool | None = None
    enable_image_generation: bool | None = None
    enable_autocomplete_generation: bool | None = None
    enable_community_sharing: bool | None = None
    enable_message_rating: bool | None = None
    enable_user_webhooks: bool | None = None
    enable_user_status: bool | None = None
    enable_admin_export: bool | None = None
    enable_admin_chat_access: bool | None = None


class AppConfigUI(BaseModel):
    model_config = ConfigDict(extra="allow")  # verified callers: interface defaults, visibility

    pending_user_overlay_title: str | None = None
    pending_user_overlay_content: str | None = None
    response_watermark: str | None = None  # verified users only


class AppConfigResponse(BaseModel):
    """GET /api/config. Build it from the keys that apply and dump with ``exclude_unset=True``:

    * ``onboarding: true`` only while no user exists and the caller is anonymous;
    * ``default_models`` … ``permissions`` … only for a verified (user/admin) caller;
    * ``ui`` with the two overlay texts only for a pending caller.
    """

    model_config = ConfigDict(extra="allow")

    onboarding: bool | None = None
    status: bool = True
    name: str = DEFAULT_WEBUI_NAME
    version: str = OPEN_WEBUI_VERSION
    default_locale: str = ""
    oauth: AppConfigOAuth = Field(default_factory=AppConfigOAuth)
    features: AppConfigFeatures = Field(default_factory=AppConfigFeatures)
    # verified callers only
    default_models: str | None = None
    default_pinned_models: str | None = None
    default_prompt_suggestions: list[dict[str, Any]] | None = None
    user_count: int | None = None
    permissions: dict[str, Any] | None = None  # the *default* permissions (wire form)
    ui: AppConfigUI | None = None
    license_metadata: dict[str, Any] | None = None


class UsageResponse(BaseModel):
    """GET /api/usage: models in use right now (the Socket.IO `usage` pool) and active users."""

    model_ids: list[str]
    user_count: int
