"""Request/response models of /api/v1/users/* (Open WebUI 0.12.4 OpenAPI component names).

Also home of the constrained input types shared with ``auths.py`` (emails, names,
passwords, profile-image URLs), so oversized or hostile input fails with 422, not 500.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from application.permissions import DEFAULT_PERMISSIONS
from interfaces import bounds
from interfaces.schemas.json_limits import JSONObject

# ---------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------

USERS_PAGE_SIZE = 30  # reference PAGE_ITEM_COUNT in routers/users.py
ACTIVE_WINDOW_SECONDS = 180  # reference Users.is_user_active: last_active_at within 3 minutes
NAME_MAX_CHARS = 255
EMAIL_MAX_CHARS = 320  # RFC 5321 local(64) + "@" + domain(255); format itself is checked by the app
PASSWORD_MAX_BYTES = 4096  # hard input cap (422); bcrypt's 72-byte limit is a 400 in the app
BCRYPT_MAX_BYTES = 72
PROFILE_IMAGE_URL_MAX_CHARS = 2 * 1024 * 1024  # not in reference (data: URIs of small avatars)
SHORT_TEXT_MAX_CHARS = 255  # not in reference (gender, timezone, role-like strings)
BIO_MAX_CHARS = 10_000  # not in reference
STATUS_EMOJI_MAX_CHARS = 64  # not in reference
STATUS_MESSAGE_MAX_CHARS = 2_000  # not in reference
QUERY_MAX_CHARS = 1_000  # not in reference (search text / order_by / direction)

Role = Literal["admin", "user", "pending"]
ROLES: tuple[str, ...] = ("admin", "user", "pending")

# order_by values the reference understands; anything else means "no explicit order".
USER_ORDER_BY_FIELDS: tuple[str, ...] = (
    "name",
    "email",
    "created_at",
    "last_active_at",
    "updated_at",
    "role",
)  # plus "group_id:<id>" (members of that group first, then by name)
USER_ORDER_BY_GROUP_PREFIX = "group_id:"

# ---------------------------------------------------------------------------------------
# Constrained input types
# ---------------------------------------------------------------------------------------


def _password_bytes(value: str) -> str:
    if len(value.encode("utf-8")) > PASSWORD_MAX_BYTES:
        raise ValueError(f"password must be at most {PASSWORD_MAX_BYTES} bytes")
    return value


_SAFE_STATIC_PATHS = frozenset({"/user.png", "/favicon.png", "/static/favicon.png"})
_USER_PROFILE_IMAGE_RE = re.compile(r"^/api/v1/users/[^/?#]+/profile/image$")
_SAFE_DATA_URI_RE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,", re.IGNORECASE)
PROFILE_IMAGE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def validate_profile_image_url(value: str) -> str:
    """The reference's accepted profile-image forms (utils/validate.py), anything else → 422.

    Empty string (use the default avatar); the exact static paths ``/user.png``,
    ``/favicon.png``, ``/static/favicon.png``; ``/api/v1/users/{id}/profile/image``;
    ``http(s)://`` URLs with a host; ``data:image/{png,jpeg,gif,webp};base64,…``.
    Rejected: other schemes (``javascript:`` …), SVG data URIs, other relative and
    scheme-relative (``//host``) paths.
    """
    if not value:
        return value
    if value in _SAFE_STATIC_PATHS or _USER_PROFILE_IMAGE_RE.match(value):
        return value
    if value.startswith(("http://", "https://")):
        if urlparse(value).hostname:
            return value
        raise ValueError("profile_image_url must have a host")
    if _SAFE_DATA_URI_RE.match(value):
        return value
    raise ValueError(
        "profile_image_url must be empty, /user.png, an http(s) URL or a "
        "data:image/{png,jpeg,gif,webp};base64 URI"
    )


Email = Annotated[str, StringConstraints(max_length=EMAIL_MAX_CHARS)]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX_CHARS)]
Password = Annotated[str, AfterValidator(_password_bytes)]
ProfileImageUrl = Annotated[
    str,
    StringConstraints(max_length=PROFILE_IMAGE_URL_MAX_CHARS),
    AfterValidator(validate_profile_image_url),
]
ShortText = Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX_CHARS)]
Bio = Annotated[str, StringConstraints(max_length=BIO_MAX_CHARS)]
QueryText = Annotated[str, StringConstraints(max_length=QUERY_MAX_CHARS)]

# ---------------------------------------------------------------------------------------
# Settings / status / info
# ---------------------------------------------------------------------------------------


class UserSettings(BaseModel):
    """Free-form per-user settings; the frontend keeps everything under ``ui``."""

    model_config = ConfigDict(extra="allow")

    ui: dict[str, Any] | None = Field(default_factory=dict)


class UserStatus(BaseModel):
    """Body of POST /users/user/status/update; also mixed into several responses."""

    status_emoji: Annotated[str, StringConstraints(max_length=STATUS_EMOJI_MAX_CHARS)] | None = None
    status_message: (
        Annotated[str, StringConstraints(max_length=STATUS_MESSAGE_MAX_CHARS)] | None
    ) = None
    status_expires_at: bounds.Epoch | None = None  # epoch seconds


# ---------------------------------------------------------------------------------------
# User records
# ---------------------------------------------------------------------------------------


class UserModel(BaseModel):
    """A user as stored and as returned by admin endpoints (timestamps: epoch seconds)."""

    id: str
    email: str
    username: str | None = None
    role: str = "pending"
    name: str
    profile_image_url: str | None = None
    profile_banner_image_url: str | None = None
    bio: str | None = None
    gender: str | None = None
    date_of_birth: datetime.date | None = None
    timezone: str | None = None
    presence_state: str | None = None
    status_emoji: str | None = None
    status_message: str | None = None
    status_expires_at: int | None = None
    info: dict[str, Any] | None = None
    settings: UserSettings | None = None
    oauth: dict[str, Any] | None = None
    scim: dict[str, Any] | None = None
    last_active_at: int
    updated_at: int
    created_at: int


class UserModelResponse(UserModel):
    model_config = ConfigDict(extra="allow")


class UserListResponse(BaseModel):
    """Generic ``{users, total}`` page (reference models/users.py)."""

    users: list[UserModelResponse]
    total: int


class UserGroupIdsModel(UserModel):
    group_ids: list[str] = Field(default_factory=list)


class UserGroupIdsListResponse(BaseModel):
    """GET /users/ — one page (30) of users, each with the ids of its groups."""

    users: list[UserGroupIdsModel]
    total: int  # count of all matching users, before paging


class UserInfoResponse(UserStatus):
    id: str
    name: str
    email: str
    role: str
    bio: str | None = None
    last_active_at: int | None = None
    timezone: str | None = None
    groups: list[Any] | None = Field(default_factory=list)
    is_active: bool = False


class UserInfoListResponse(BaseModel):
    """GET /users/all and GET /users/search."""

    users: list[UserInfoResponse]
    total: int


class UserGroupRef(BaseModel):
    id: str
    name: str


class UserActiveResponse(UserStatus):
    """GET /users/{user_id}: the user's fields (extra keys allowed) + groups + is_active."""

    model_config = ConfigDict(extra="allow")

    status_expires_at: int | None = None  # unbounded on output: what was stored before the bound
    name: str
    profile_image_url: str | None = None
    groups: list[Any] | None = Field(default_factory=list)  # [{id, name}] (UserGroupRef)
    is_active: bool


class UserActiveStatusResponse(BaseModel):
    """GET /users/{user_id}/active."""

    active: bool


class UserNameResponse(BaseModel):
    id: str
    name: str
    role: str


class UserResponse(UserNameResponse):
    email: str


class UserProfileImageResponse(UserNameResponse):
    """POST /auths/update/profile response."""

    email: str
    profile_image_url: str


class UserUpdateForm(BaseModel):
    """POST /users/{user_id}/update — partial: only non-null fields are applied."""

    role: Role | None = None  # reference accepts any string; Chronicle: 422 for unknown roles
    name: Name | None = None
    email: Email | None = None
    profile_image_url: ProfileImageUrl | None = None
    password: Password | None = None


class UserListQuery(BaseModel):
    """Query of GET /users/ and GET /users/search (page size USERS_PAGE_SIZE)."""

    query: QueryText | None = None  # case-insensitive substring of name OR email
    order_by: QueryText | None = None  # USER_ORDER_BY_FIELDS or "group_id:<id>"
    direction: QueryText | None = None  # "asc" → ascending; anything else → descending
    page: bounds.LenientPage | None = 1  # values < 1 (and null) are treated as 1


# ---------------------------------------------------------------------------------------
# Groups / OAuth sessions as seen from /users
# ---------------------------------------------------------------------------------------


class UserGroupResponse(BaseModel):
    """One element of GET /users/groups and GET /users/{user_id}/groups."""

    model_config = ConfigDict(extra="allow")

    id: str
    user_id: str  # the group's owner
    name: str
    description: str
    parent_group_id: str | None = None
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    permissions: dict[str, Any] | None = None
    created_at: int
    updated_at: int


class OAuthSessionResponse(BaseModel):
    """One element of GET /users/{user_id}/oauth/sessions (token deliberately omitted)."""

    id: str
    user_id: str
    provider: str
    expires_at: int
    created_at: int | None = None
    updated_at: int | None = None


# ---------------------------------------------------------------------------------------
# Permissions (defaults: application.permissions, = the 0.12.4 OpenAPI and config defaults)
# ---------------------------------------------------------------------------------------


class _PermissionSection(BaseModel):
    """One section of the permissions. A section declares its fields (0.12.4's wire shape);
    their defaults are application.permissions.DEFAULT_PERMISSIONS, the one definition."""

    section: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        defaults = DEFAULT_PERMISSIONS[cls.section]
        fields = {field.alias or name: field for name, field in cls.model_fields.items()}
        if fields.keys() != defaults.keys():  # a permission added on one side only
            raise TypeError(f"{cls.__name__} differs from DEFAULT_PERMISSIONS[{cls.section!r}]")
        for key, field in fields.items():
            field.default = defaults[key]
        cls.model_rebuild(force=True)  # validation and the OpenAPI schema take the defaults


class WorkspacePermissions(_PermissionSection):
    section = "workspace"

    models: bool
    knowledge: bool
    prompts: bool
    tools: bool
    skills: bool
    models_import: bool
    models_export: bool
    models_hidden: bool
    prompts_import: bool
    prompts_export: bool
    tools_import: bool
    tools_export: bool
    skills_import: bool
    skills_export: bool


class SharingPermissions(_PermissionSection):
    section = "sharing"

    models: bool
    public_models: bool
    knowledge: bool
    public_knowledge: bool
    prompts: bool
    public_prompts: bool
    tools: bool
    public_tools: bool
    skills: bool
    public_skills: bool
    notes: bool
    public_notes: bool
    folders: bool
    public_chats: bool
    open_chats: bool
    public_calendars: bool


class AccessGrantsPermissions(_PermissionSection):
    section = "access_grants"

    allow_users: bool
    allow_groups: bool


class ChatPermissions(_PermissionSection):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    section = "chat"

    controls: bool
    valves: bool
    system_prompt: bool
    params: bool
    file_upload: bool
    web_upload: bool
    delete: bool
    delete_message: bool
    continue_response: bool
    regenerate_response: bool
    rate_response: bool
    edit: bool
    share: bool
    export: bool
    import_: bool = Field(alias="import")  # wire name is "import"
    stt: bool
    tts: bool
    call: bool
    multiple_models: bool
    temporary: bool
    temporary_enforced: bool


class FeaturesPermissions(_PermissionSection):
    section = "features"

    api_keys: bool
    notes: bool
    channels: bool
    encrypted_channels: bool
    folders: bool
    direct_tool_servers: bool
    web_search: bool
    image_generation: bool
    code_interpreter: bool
    memories: bool
    automations: bool
    calendar: bool
    webhooks: bool


class SettingsPermissions(_PermissionSection):
    section = "settings"

    interface: bool


class UserPermissions(BaseModel):
    """GET/POST /users/default/permissions; all six sections are required on POST."""

    model_config = ConfigDict(serialize_by_alias=True)

    workspace: WorkspacePermissions
    sharing: SharingPermissions
    access_grants: AccessGrantsPermissions
    chat: ChatPermissions
    features: FeaturesPermissions
    settings: SettingsPermissions

    @classmethod
    def defaults(cls) -> UserPermissions:
        return cls.from_stored(None)

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> UserPermissions:
        """Fill a stored (possibly partial/legacy) permissions dict with the defaults."""
        stored = stored or {}
        return cls(
            workspace=WorkspacePermissions(**stored.get("workspace", {})),
            sharing=SharingPermissions(**stored.get("sharing", {})),
            access_grants=AccessGrantsPermissions(**stored.get("access_grants", {})),
            chat=ChatPermissions(**stored.get("chat", {})),
            features=FeaturesPermissions(**stored.get("features", {})),
            settings=SettingsPermissions(**stored.get("settings", {})),
        )


def default_user_permissions() -> dict[str, dict[str, bool]]:
    """The wire form of the default permissions (``chat.import`` spelled ``import``)."""
    return UserPermissions.defaults().model_dump(by_alias=True)


class UserVariablesForm(BaseModel):
    """POST /users/user/variables/update: the whole set (the app checks keys and values)."""

    variables: JSONObject = Field(default_factory=dict)


class UserVariablesResponse(BaseModel):
    variables: dict[str, str] = Field(default_factory=dict)


class UserInfoByIdResponse(UserStatus):
    """GET /users/{user_id}/info (0.12.4's UserInfoResponse; the email address and time zone
    only for the user and admins)."""

    status_expires_at: int | None = None
    id: str
    name: str
    email: str | None = None
    role: str
    bio: str | None = None
    last_active_at: int | None = None
    timezone: str | None = None
    groups: list[Any] | None = Field(default_factory=list)
    is_active: bool = False
