"""Request/response models of /api/v1/auths/* (Open WebUI 0.12.4 OpenAPI component names)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from interfaces import bounds
from interfaces.schemas.users import (
    Bio,
    Email,
    Name,
    Password,
    ProfileImageUrl,
    ShortText,
    UserProfileImageResponse,
    UserStatus,
)

__all__ = [
    "ADMIN_CONFIG_DEFAULTS",
    "AddUserForm",
    "AddUserResponse",
    "MfaStatusResponse",
    "StatusResponse",
    "UpdateTimezoneForm",
    "AdminConfig",
    "ApiKey",
    "JWT_EXPIRES_IN_PATTERN",
    "LdapForm",
    "MfaChallengeResponse",
    "PendingUserResponse",
    "SessionUserInfoResponse",
    "SessionUserResponse",
    "SigninForm",
    "SigninResult",
    "SignoutResponse",
    "SignupForm",
    "Token",
    "UpdatePasswordForm",
    "UpdateProfileForm",
    "UserProfileImageResponse",
]

DEFAULT_PROFILE_IMAGE_URL = "/user.png"  # SignupForm default
# Reference accepts JWT_EXPIRES_IN only if it matches this; otherwise the value is ignored.
JWT_EXPIRES_IN_PATTERN = r"^(-1|0|(-?\d+(\.\d+)?)(ms|s|m|h|d|w))$"

# ---------------------------------------------------------------------------------------
# Forms
# ---------------------------------------------------------------------------------------


class SigninForm(BaseModel):
    email: Email  # lower-cased by the app before lookup and rate limiting
    password: Password  # only the first 72 UTF-8 bytes are compared (bcrypt)


class SignupForm(BaseModel):
    name: Name
    email: Email  # format checked by the app → 400 INVALID_EMAIL_FORMAT
    password: Password  # > 72 bytes → 400 PASSWORD_TOO_LONG (app)
    profile_image_url: ProfileImageUrl | None = DEFAULT_PROFILE_IMAGE_URL


class AddUserForm(SignupForm):
    """POST /auths/add (admins): a sign-up form with the new user's role."""

    role: ShortText | None = "pending"  # "pending" | "user" | "admin"; others → 400


class UpdateTimezoneForm(BaseModel):
    timezone: Annotated[str, StringConstraints(max_length=255)]  # IANA name; bound not in reference


class LdapForm(BaseModel):
    user: Annotated[str, StringConstraints(max_length=255)]
    password: Password


class UpdatePasswordForm(BaseModel):
    password: Password  # current password
    new_password: Password  # > 72 bytes → 400 PASSWORD_TOO_LONG (app)


class UpdateProfileForm(BaseModel):
    """POST /auths/update/profile. Every field is written: omitted optionals become null."""

    profile_image_url: ProfileImageUrl
    name: Name
    bio: Bio | None = None
    gender: ShortText | None = None
    date_of_birth: datetime.date | None = None  # "YYYY-MM-DD"


# ---------------------------------------------------------------------------------------
# Session responses
# ---------------------------------------------------------------------------------------


class Token(BaseModel):
    token: str
    token_type: str  # always "Bearer"


class SessionUserResponse(Token, UserProfileImageResponse):
    """Signin/signup/ldap response. ``profile_image_url`` = ``/api/v1/users/{id}/profile/image``;
    ``permissions`` = the caller's effective UserPermissions (wire form, dict)."""

    expires_at: int | None = None  # epoch seconds; null when JWT_EXPIRES_IN is "-1"/"0"
    permissions: dict[str, Any] | None = None


class SessionUserInfoResponse(SessionUserResponse, UserStatus):
    """GET /auths/ response. ``profile_image_url`` here is the *stored* value."""

    status_expires_at: int | None = None  # unbounded on output: what was stored before the bound
    bio: str | None = None
    gender: str | None = None
    date_of_birth: datetime.date | None = None


class MfaChallengeResponse(BaseModel):
    """Signin answer when MFA is required (ENABLE_MFA; off by default)."""

    next_step: Literal["enroll", "verify", "recover"]
    challenge_token: str
    expires_in: int  # seconds


class PendingUserResponse(BaseModel):
    """Signin answer for a pending user when ENABLE_MFA is on (off by default)."""

    next_step: Literal["pending"] = "pending"


SigninResult = SessionUserResponse | MfaChallengeResponse | PendingUserResponse


class SignoutResponse(BaseModel):
    status: bool = True
    redirect_url: str | None = None  # only present when a sign-out redirect is configured


class AddUserResponse(UserProfileImageResponse):
    """POST /auths/add: the new user, and a session token of theirs (0.12.4's answer)."""

    token: str | None = None
    token_type: str | None = None


class StatusResponse(BaseModel):
    status: bool = True


class MfaStatusResponse(BaseModel):
    """GET /auths/mfa/status: MFA is not offered here, so never enabled nor required."""

    enabled: bool = False
    required: bool = False
    recovery_codes_remaining: int = 0


class ApiKey(BaseModel):
    """GET/POST /auths/api_key: ``{"api_key": "sk-<32 hex>"}``."""

    api_key: str | None = None


# ---------------------------------------------------------------------------------------
# Admin config (GET/POST /auths/admin/config)
# ---------------------------------------------------------------------------------------


class AdminConfig(BaseModel):
    """POST body and response of /auths/admin/config (extra keys are ignored).

    The client GETs this object, edits fields (e.g. ``ENABLE_SIGNUP``) and POSTs it back
    whole. An unknown ``DEFAULT_USER_ROLE`` or an ill-formed ``JWT_EXPIRES_IN`` is silently
    ignored (the old value is kept), not rejected.
    """

    ENABLE_MFA: bool = False
    MFA_ALLOW_OAUTH_BYPASS: bool = False
    MFA_ALLOW_TRUSTED_HEADER_BYPASS: bool = False
    SHOW_ADMIN_DETAILS: bool
    ADMIN_EMAIL: str | None = None
    WEBUI_URL: str
    ENABLE_LOGIN_FORM: bool = True
    ENABLE_SIGNUP: bool
    ENABLE_API_KEYS: bool
    ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS: bool
    API_KEYS_ALLOWED_ENDPOINTS: str  # comma-separated path prefixes
    DEFAULT_USER_ROLE: str  # "pending" | "user" | "admin"; others ignored
    DEFAULT_GROUP_ID: str
    DEFAULT_INTERFACE_SETTINGS: dict[str, Any] | None = None
    I18N: dict[str, dict[str, str]] | None = None
    JWT_EXPIRES_IN: str  # JWT_EXPIRES_IN_PATTERN, e.g. "4w", "-1"
    ENABLE_COMMUNITY_SHARING: bool
    ENABLE_MESSAGE_RATING: bool
    ENABLE_FOLDERS: bool
    FOLDER_MAX_FILE_COUNT: bounds.Count | str | None = None
    AUTOMATION_MAX_COUNT: bounds.Count | str | None = None
    AUTOMATION_MIN_INTERVAL: bounds.Count | str | None = None
    ENABLE_AUTOMATIONS: bool
    ENABLE_CHANNELS: bool
    ENABLE_ENCRYPTED_CHANNELS: bool = False
    ENABLE_APPS: bool = False
    CHANNEL_MODEL_RESPONSE_MODE: str = "thread"
    ENABLE_CALENDAR: bool
    ENABLE_MEMORIES: bool
    ENABLE_MEMORY_SYSTEM_CONTEXT: bool
    ENABLE_SKILL_LAZY_LOADING: bool = False
    SKILL_CONTENT_MAX_CHARS: bounds.PositiveCount | None = None
    SKILL_PREVIEW_MAX_CHARS: bounds.PositiveCount | None = None
    ENABLE_NOTES: bool
    ENABLE_USER_WEBHOOKS: bool
    ENABLE_USER_STATUS: bool
    PENDING_USER_OVERLAY_TITLE: str | None = None
    PENDING_USER_OVERLAY_CONTENT: str | None = None
    RESPONSE_WATERMARK: str | None = Field(default=None)


# Initial values of a fresh install (env unset). Keys without a comment are confirmed
# by the reference config; "# not in reference" marks Chronicle's choice.
ADMIN_CONFIG_DEFAULTS: dict[str, Any] = {
    "ENABLE_MFA": False,
    "MFA_ALLOW_OAUTH_BYPASS": False,
    "MFA_ALLOW_TRUSTED_HEADER_BYPASS": False,
    "SHOW_ADMIN_DETAILS": True,
    "ADMIN_EMAIL": None,
    "WEBUI_URL": "",
    "ENABLE_LOGIN_FORM": True,
    "ENABLE_SIGNUP": True,  # flipped to False by the first signup
    "ENABLE_API_KEYS": False,
    "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS": False,
    "API_KEYS_ALLOWED_ENDPOINTS": "",
    "DEFAULT_USER_ROLE": "pending",
    "DEFAULT_GROUP_ID": "",
    "DEFAULT_INTERFACE_SETTINGS": {},
    "I18N": None,  # not in reference
    "JWT_EXPIRES_IN": "4w",
    "ENABLE_COMMUNITY_SHARING": True,
    "ENABLE_MESSAGE_RATING": True,
    "ENABLE_FOLDERS": True,
    "FOLDER_MAX_FILE_COUNT": "",
    "AUTOMATION_MAX_COUNT": "",  # not in reference
    "AUTOMATION_MIN_INTERVAL": "",  # not in reference
    "ENABLE_AUTOMATIONS": False,  # not in reference
    "ENABLE_CHANNELS": False,
    "ENABLE_ENCRYPTED_CHANNELS": False,
    "ENABLE_APPS": False,
    "CHANNEL_MODEL_RESPONSE_MODE": "thread",
    "ENABLE_CALENDAR": False,  # not in reference
    "ENABLE_MEMORIES": True,
    "ENABLE_MEMORY_SYSTEM_CONTEXT": True,  # not in reference
    "ENABLE_SKILL_LAZY_LOADING": False,
    "SKILL_CONTENT_MAX_CHARS": None,  # not in reference
    "SKILL_PREVIEW_MAX_CHARS": None,  # not in reference
    "ENABLE_NOTES": True,
    "ENABLE_USER_WEBHOOKS": False,
    "ENABLE_USER_STATUS": True,
    "PENDING_USER_OVERLAY_TITLE": "",
    "PENDING_USER_OVERLAY_CONTENT": "",
    "RESPONSE_WATERMARK": "",
}
