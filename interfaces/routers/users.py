"""/api/v1/users: lists and search (read model), the caller's own documents, administration."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import RedirectResponse

from application.errors import BadRequest, NotFound
from application.messages import Detail
from application.ports import SessionStore
from application.users import UserService
from domain.user import User
from interfaces import bounds
from interfaces.deps import AdminUser, VerifiedUser, Write, consistent
from interfaces.schemas.json_limits import JSONObject
from interfaces.schemas.users import (
    ACTIVE_WINDOW_SECONDS,
    PROFILE_IMAGE_MEDIA_TYPES,
    QueryText,
    UserActiveResponse,
    UserActiveStatusResponse,
    UserGroupIdsListResponse,
    UserInfoByIdResponse,
    UserInfoListResponse,
    UserModel,
    UserPermissions,
    UserSettings,
    UserStatus,
    UserUpdateForm,
    UserVariablesForm,
    UserVariablesResponse,
)
from interfaces.services import Config, Erasure, Groups, Sessions, Users

router = APIRouter(prefix="/api/v1/users", tags=["users"])
USERS = consistent("users")
GROUPS = consistent("groups")
DEFAULT_AVATAR = Path(__file__).resolve().parent.parent / "static" / "user.png"


def _with_activity(sessions: SessionStore, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    active = sessions.last_active([r["id"] for r in rows])
    now = time.time()
    for row in rows:
        seen = active.get(row["id"])
        row["last_active_at"] = int(seen) if seen else row["updated_at"]
        row["is_active"] = bool(seen and now - seen < ACTIVE_WINDOW_SECONDS)
        row["groups"] = []
        row["group_ids"] = []
    return rows


def _user_model(sessions: SessionStore, user: User) -> dict[str, Any]:
    seen = sessions.last_active([str(user.id)]).get(str(user.id))
    return {
        "id": str(user.id), "email": user.email, "name": user.name, "role": user.role,
        "profile_image_url": user.profile_image_url, "bio": user.bio, "gender": user.gender,
        "date_of_birth": user.date_of_birth, "info": user.info, "settings": user.settings,
        **{k: user.status.get(k) for k in ("status_emoji", "status_message", "status_expires_at")},
        "last_active_at": int(seen) if seen else user.updated_at,
        "updated_at": user.updated_at, "created_at": user.created_at,
    }


ListQuery = Annotated[QueryText | None, Query()]
Page = Annotated[bounds.LenientPage | None, Query()]


@router.get("/", response_model=UserGroupIdsListResponse, dependencies=[USERS, GROUPS])
def list_users(principal: AdminUser, sessions: Sessions, users: Users, groups: Groups,
               query: ListQuery = None,
               order_by: ListQuery = None, direction: ListQuery = None,
               page: Page = 1) -> dict[str, Any]:
    # Without order_by the reference keeps insertion order whenever any filter key is present,
    # which on this route is always.
    """Users, searched, sorted and paged (admins)."""
    rows, total = users.page(query, order_by or "created_at",
                             direction if order_by else "asc", page or 1)
    rows = _with_activity(sessions, rows)
    memberships = groups.direct_group_ids([r["id"] for r in rows])
    for row in rows:
        row["group_ids"] = memberships.get(row["id"], [])
    return {"users": rows, "total": total}


@router.get("/all", response_model=UserInfoListResponse, dependencies=[USERS])
def all_users(principal: AdminUser, sessions: Sessions, users: Users) -> dict[str, Any]:
    """Every user (admins)."""
    rows, total = users.page(None, "created_at", "desc", None)
    return {"users": _with_activity(sessions, rows), "total": total}


@router.get("/search", response_model=UserInfoListResponse, dependencies=[USERS])
def search_users(principal: VerifiedUser, sessions: Sessions, users: Users,
                 query: ListQuery = None,
                 order_by: ListQuery = None, direction: ListQuery = None,
                 page: Page = 1) -> dict[str, Any]:
    """Users by name or email, for pickers."""
    if order_by is None:  # insertion order when filtered, newest first when bare
        direction = "asc" if (query or direction) else "desc"
    rows, total = users.page(query, order_by or "created_at", direction, page or 1)
    for row in _with_activity(sessions, rows):
        row["is_active"] = False  # the reference does not compute it in list items
    return {"users": rows, "total": total}


@router.get("/groups", dependencies=[GROUPS])
def my_groups(principal: VerifiedUser, groups: Groups,
              include_inherited: bool = False) -> list[dict[str, Any]]:
    """The caller's groups (with include_inherited, their parents' too, marked so)."""
    return _group_models(groups.of_user(principal.id, include_inherited))


@router.get("/permissions", dependencies=[GROUPS])
def my_permissions(principal: VerifiedUser, groups: Groups) -> dict[str, Any]:
    """The caller's permissions: the defaults combined with their groups'."""
    return groups.permissions(principal)


@router.get("/default/permissions", response_model=UserPermissions)
def get_default_permissions(principal: AdminUser, config: Config) -> Any:
    """The permissions every user gets by default (admins)."""
    return UserPermissions.from_stored(config.get("DEFAULT_PERMISSIONS"))


@router.get("/default/permissions/defaults", response_model=UserPermissions)
def get_builtin_permissions(principal: AdminUser) -> dict[str, Any]:
    """The built-in default permissions, whatever the admin changed (a group's "reset")."""
    return UserPermissions.defaults().model_dump(by_alias=True)


@router.post("/default/permissions")
def update_default_permissions(form: UserPermissions, principal: AdminUser,
                               config: Config, written: Write) -> dict[str, Any]:
    """Change the default permissions (admins)."""
    stored = form.model_dump(by_alias=True)
    outcome = config.update({"DEFAULT_PERMISSIONS": stored})
    written(outcome.position)
    return stored


@router.get("/user/settings", response_model=UserSettings | None)
def get_settings(principal: VerifiedUser, config: Config, users: Users, raw: bool = False) -> Any:
    """The caller's web app settings, over the instance defaults."""
    settings = users.load(principal.id).settings
    defaults = config.get("DEFAULT_INTERFACE_SETTINGS")
    if raw or settings is None or not isinstance(defaults, dict) or not defaults:
        return settings
    return {**settings, "ui": {**defaults, **(settings.get("ui") or {})}}


@router.post("/user/settings/update", response_model=UserSettings)
async def update_settings(form: UserSettings, principal: VerifiedUser,
                          users: Users, written: Write) -> Any:
    """Replace the caller's web app settings."""
    outcome = await users.update_settings(principal,
                                          form.model_dump(exclude_unset=False))
    await written.noted(outcome.position)
    return outcome.value.settings


@router.get("/user/status", response_model=UserModel)
def get_status(principal: VerifiedUser, sessions: Sessions, users: Users) -> dict[str, Any]:
    """The caller's status (emoji, message, expiry)."""
    users.require_status_enabled()
    return _user_model(sessions, users.load(principal.id))


@router.post("/user/status/update", response_model=UserModel)
def update_status(form: UserStatus, principal: VerifiedUser,
                  sessions: Sessions, users: Users, written: Write) -> dict[str, Any]:
    """Set the caller's status."""
    outcome = users.update_status(principal, form.model_dump())
    written(outcome.position)
    return _user_model(sessions, outcome.value)


@router.get("/user/info")
def get_info(principal: VerifiedUser, users: Users) -> dict[str, Any] | None:
    """The caller's free-form info."""
    return users.load(principal.id).info


@router.post("/user/info/update")
def update_info(principal: VerifiedUser, users: Users, written: Write,
                form: Annotated[JSONObject, Body()]) -> dict[str, Any] | None:
    """Merge keys into the caller's info."""
    outcome = users.update_info(principal, form)
    written(outcome.position)
    return outcome.value.info


@router.get("/user/variables", response_model=UserVariablesResponse)
def get_variables(principal: VerifiedUser, users: Users) -> dict[str, Any]:
    """The caller's prompt variables (`{{user.variables.<key>}}`)."""
    return {"variables": users.variables(principal)}


@router.post("/user/variables/update", response_model=UserVariablesResponse)
def update_variables(form: UserVariablesForm, principal: VerifiedUser, users: Users,
                     written: Write) -> dict[str, Any]:
    """Replace the caller's prompt variables."""
    outcome = users.update_variables(principal, form.variables)
    written(outcome.position)
    return {"variables": outcome.value}


@router.get("/{user_id}", response_model=UserActiveResponse)
def get_user(user_id: str, principal: VerifiedUser, users: Users,
             sessions: Sessions, groups: Groups) -> dict[str, Any]:
    """A user's public card."""
    user = _existing(users, user_id)
    model = _user_model(sessions, user)
    model["groups"] = [{"id": g["id"], "name": g["name"]}
                       for g in groups.of_user(user_id, include_inherited=False)]
    model["is_active"] = time.time() - model["last_active_at"] < ACTIVE_WINDOW_SECONDS and \
        bool(sessions.last_active([user_id]))
    if principal.is_admin or principal.id == user_id:
        return model
    public = ("id", "name", "profile_image_url", "status_emoji", "status_message",
              "status_expires_at", "groups", "is_active")
    return {k: model[k] for k in public}


@router.get("/{user_id}/info", response_model=UserInfoByIdResponse)
def get_user_info(user_id: str, principal: VerifiedUser, users: Users,
                  sessions: Sessions) -> dict[str, Any]:
    """A user's card as the app's access-control and mention pop-ups show it. As for
    GET /users/{id}, only the user and admins see the email address and time zone."""
    user = _existing(users, user_id)
    model = _user_model(sessions, user)
    info = {k: model[k] for k in ("id", "name", "role", "bio", "last_active_at", "status_emoji",
                                  "status_message", "status_expires_at")}
    info["groups"] = []
    info["is_active"] = time.time() - model["last_active_at"] < ACTIVE_WINDOW_SECONDS and \
        bool(sessions.last_active([user_id]))
    if principal.is_admin or principal.id == user_id:
        info.update(email=user.email, timezone=getattr(user, "timezone", None))
    return info


@router.get("/{user_id}/oauth/sessions")
def oauth_sessions(user_id: str, principal: AdminUser, users: Users) -> list[Any]:
    """A user's OAuth sessions: OAuth is not implemented, so never any (a 400)."""
    _existing(users, user_id)
    # No OAuth providers yet, so nobody has a session; "none" is a 400 in the reference.
    raise BadRequest(Detail.USER_NOT_FOUND)


@router.get("/{user_id}/profile/image")
def profile_image(user_id: str, principal: VerifiedUser, users: Users) -> Response:
    """A user's profile picture (or the default one)."""
    url = _existing(users, user_id).profile_image_url or ""
    if url.startswith(("http://", "https://")):
        return RedirectResponse(url, status_code=302)
    if url.startswith("data:image/"):
        header, _, data = url.partition(",")
        media = header[5:].split(";")[0].lower()
        if media in PROFILE_IMAGE_MEDIA_TYPES:
            try:
                return Response(base64.b64decode(data, validate=True), media_type=media,
                                headers={"Content-Disposition": "inline"})
            except ValueError:
                pass
    return Response(DEFAULT_AVATAR.read_bytes(), media_type="image/png",
                    headers={"Content-Disposition": "inline"})


@router.get("/{user_id}/active", response_model=UserActiveStatusResponse)
def is_active(user_id: str, principal: VerifiedUser, sessions: Sessions) -> dict[str, bool]:
    """Whether a user has an open session right now."""
    seen = sessions.last_active([user_id]).get(user_id)
    return {"active": bool(seen and time.time() - seen < ACTIVE_WINDOW_SECONDS)}


@router.post("/{user_id}/update", response_model=UserModel)
def update_user(user_id: str, form: UserUpdateForm, principal: AdminUser,
                sessions: Sessions, users: Users, written: Write) -> dict[str, Any]:
    """Change a user's role, name, email, picture or password (admins)."""
    outcome = users.admin_update(principal, user_id, form.role, form.name, form.email,
                                 form.profile_image_url, form.password)
    written(outcome.position)
    return _user_model(sessions, outcome.value)


# The grants it removes are found in the items' read models: they hold the caller's writes first.
@router.delete("/{user_id}", response_model=bool,
               dependencies=[consistent("models", "knowledge", "tools")])
def delete_user(user_id: str, principal: AdminUser,
                users: Users, written: Write) -> bool:
    """Delete a user (admins)."""
    try:
        outcome = users.delete(principal, user_id)
    except NotFound:
        return True  # deleting what is not there is done (as the reference answers)
    written(outcome.position)
    return True


@router.delete("/{user_id}/erase")
def erase_user(user_id: str, principal: AdminUser,
               erasure: Erasure, written: Write) -> dict[str, Any]:
    """Erase the user's personal data everywhere (docs/erasure.md); not in Open WebUI."""
    report = erasure.erase_user(principal, user_id)
    written(report.position)
    return {"id": report.user_id, "erased": True, "already_erased": report.already_erased,
            "complete": report.complete, "deleted": report.deleted}


@router.get("/{user_id}/groups", dependencies=[GROUPS])
def user_groups(user_id: str, principal: AdminUser, groups: Groups,
                include_inherited: bool = False) -> list[Any]:
    """A user's groups (admins)."""
    return _group_models(groups.of_user(user_id, include_inherited))


@router.get("/{user_id}/preview", dependencies=[GROUPS, consistent("models", "knowledge", "tools")])
def user_preview(user_id: str, principal: AdminUser, users: Users,
                 groups: Groups) -> dict[str, Any]:
    """Show what resources a specific user can access across all their groups."""
    return groups.user_preview(users.get_row(user_id))


def _group_models(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GroupModel as the reference answers it here: without a member count."""
    return [{k: v for k, v in row.items() if k != "member_count"} for row in rows]


def _existing(users: UserService, user_id: str) -> User:
    try:
        return users.load(user_id)
    except NotFound:
        raise BadRequest(Detail.USER_NOT_FOUND) from None
