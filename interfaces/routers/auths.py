"""/api/v1/auths: sign-up, sign-in, sign-out, the session user, passwords, API keys, admin config."""

from __future__ import annotations

import re
import time
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response

from application.auth import Session
from application.errors import BadRequest, Forbidden, NotFound
from application.messages import Detail
from domain.user import User
from infrastructure.settings import Settings
from interfaces.deps import AdminUser, CurrentUser, VerifiedUser, Write, client_info, credential
from interfaces.schemas.auths import (
    ADMIN_CONFIG_DEFAULTS,
    JWT_EXPIRES_IN_PATTERN,
    AddUserForm,
    AddUserResponse,
    AdminConfig,
    ApiKey,
    LdapForm,
    MfaStatusResponse,
    SessionUserInfoResponse,
    SessionUserResponse,
    SigninForm,
    SignoutResponse,
    SignupForm,
    StatusResponse,
    UpdatePasswordForm,
    UpdateProfileForm,
    UpdateTimezoneForm,
    UserProfileImageResponse,
)
from interfaces.services import AppSettings, Auth, Config, Sessions, Users

router = APIRouter(prefix="/api/v1/auths", tags=["auths"])


def _set_token_cookie(response: Response, settings: Settings, session: Session) -> None:
    """The cookie lives as long as the JWT (4 weeks by default); a JWT without expiry gets a
    browser-session cookie."""
    max_age = max(0, session.expires_at - int(time.time())) if session.expires_at else None
    response.set_cookie("token", session.token, max_age=max_age, httponly=True,
                        samesite="lax", secure=settings.WEBUI_AUTH_COOKIE_SECURE)


def _session_response(response: Response, settings: Settings, session: Session,
                      image_url: str | None = None, cookie: bool = True) -> dict[str, Any]:
    user = session.user
    if cookie:
        _set_token_cookie(response, settings, session)
    return {
        "token": session.token, "token_type": "Bearer", "expires_at": session.expires_at,
        "id": str(user.id), "email": user.email, "name": user.name, "role": user.role,
        "profile_image_url": image_url if image_url is not None else
        f"/api/v1/users/{user.id}/profile/image",
        "permissions": session.permissions,
    }


@router.post("/signup", response_model=SessionUserResponse)
def signup(form: SignupForm, response: Response, settings: AppSettings, auth: Auth,
           sessions: Sessions, written: Write) -> dict[str, Any]:
    """Create an account (the first one is the admin) and start a session."""
    session, position = auth.signup(form.name, form.email, form.password,
                                    form.profile_image_url)
    written(position, None)
    sessions.note_write(str(session.user.id), position)
    return _session_response(response, settings, session)


@router.post("/signin", response_model=SessionUserResponse)
def signin(form: SigninForm, request: Request, response: Response,
           settings: AppSettings, auth: Auth, written: Write) -> dict[str, Any]:
    """Sign in with email and password: a session token and its cookie."""
    session, position = auth.signin(form.email, form.password, client_info(request))
    written(position, None)
    return _session_response(response, settings, session)


async def _signout(request: Request, response: Response, auth: Auth, written: Write
                   ) -> dict[str, Any]:
    """End the session: revoke the JWT and clear the session cookies."""
    token = credential(request)
    if token and not token.startswith("sk-"):
        try:
            principal = await anyio.to_thread.run_sync(auth.authenticate, token)
            position = auth.signout(principal, client_info(request))
            written(position, principal)  # the token's owner: no dependency authenticated it
        except Exception:  # an invalid token needs no revoking
            pass
    for cookie in ("token", "oui-session", "oauth_id_token", "oauth_session_id"):
        response.delete_cookie(cookie)
    return {"status": True}


# redirect_url only when a sign-out redirect is configured (never yet): exclude it when unset.
router.add_api_route("/signout", _signout, methods=["GET"], response_model=SignoutResponse,
                     response_model_exclude_unset=True)
router.add_api_route("/signout", _signout, methods=["POST"], response_model=SignoutResponse,
                     response_model_exclude_unset=True, include_in_schema=False)


@router.get("/", response_model=SessionUserInfoResponse)
def session_user(principal: CurrentUser, request: Request, response: Response,
                 settings: AppSettings, auth: Auth, users: Users) -> dict[str, Any]:
    """The signed-in user, their session and permissions."""
    user: User = users.load(principal.id)
    token = credential(request) or ""
    session = Session(token=token, expires_at=principal.expires_at, user=user,
                      permissions=auth.permissions_of(principal.id))
    # Never turn an API key into a browser session cookie.
    body = _session_response(response, settings, session, image_url=user.profile_image_url,
                             cookie=principal.via != "api_key")
    return {**body, "bio": user.bio, "gender": user.gender, "date_of_birth": user.date_of_birth,
            **{k: user.status.get(k) for k in ("status_emoji", "status_message",
                                               "status_expires_at")}}


@router.post("/update/profile", response_model=UserProfileImageResponse)
def update_profile(form: UpdateProfileForm, principal: VerifiedUser,
                   users: Users, written: Write) -> dict[str, Any]:
    """Change the caller's name, picture, bio, gender or birth date."""
    outcome = users.update_profile(
        principal, name=form.name, profile_image_url=form.profile_image_url, bio=form.bio,
        gender=form.gender,
        date_of_birth=form.date_of_birth.isoformat() if form.date_of_birth else None)
    written(outcome.position)
    user = outcome.value
    return {"id": str(user.id), "name": user.name, "role": user.role, "email": user.email,
            "profile_image_url": user.profile_image_url}


@router.post("/update/password", response_model=bool)
def update_password(form: UpdatePasswordForm, principal: CurrentUser,
                    auth: Auth, written: Write) -> bool:
    """Change the caller's password (the current one confirms it)."""
    session, position = auth.update_password(principal, form.password,
                                             form.new_password)
    written(position)
    return True


@router.post("/update/timezone", response_model=StatusResponse)
def update_timezone(form: UpdateTimezoneForm, principal: CurrentUser, users: Users,
                    written: Write) -> dict[str, bool]:
    """Record the caller's browser time zone (the app sends it on every load)."""
    outcome = users.set_timezone(principal, form.timezone.replace("\x00", ""))
    written(outcome.position)
    return {"status": True}


@router.post("/add", response_model=AddUserResponse, response_model_exclude_none=True)
def add_user(form: AddUserForm, principal: AdminUser, auth: Auth,
             written: Write) -> dict[str, Any]:
    """An admin adds an account with a role of their choosing."""
    session, position = auth.add_user(form.name, form.email, form.password,
                                      form.profile_image_url, form.role)
    written(position)
    user = session.user
    return {"token": session.token, "token_type": "Bearer", "id": str(user.id),
            "email": user.email, "name": user.name, "role": user.role,
            "profile_image_url": f"/api/v1/users/{user.id}/profile/image"}


@router.get("/admin/details")
def admin_details(principal: CurrentUser, auth: Auth) -> dict[str, Any]:
    """Whom to contact about one's account (the pending page shows it)."""
    return auth.admin_details()


@router.get("/mfa/status", response_model=MfaStatusResponse)
def mfa_status(principal: CurrentUser) -> dict[str, Any]:
    """The caller's MFA state: MFA is not offered here (see the README), so always off."""
    if principal.via != "session":
        raise Forbidden(Detail.HUMAN_SESSION_REQUIRED)
    return {"enabled": False, "required": False, "recovery_codes_remaining": 0}


@router.post("/ldap", response_model=SessionUserResponse)
def ldap(form: LdapForm) -> dict[str, Any]:
    """LDAP sign-in, never enabled here."""
    raise BadRequest(Detail.LDAP_NOT_ENABLED)


@router.post("/api_key", response_model=ApiKey)
def create_api_key(principal: CurrentUser,
                   auth: Auth, written: Write) -> dict[str, str]:
    """Create the caller's API key (shown this once)."""
    key, position = auth.create_api_key(principal)
    written(position)
    return {"api_key": key}


@router.get("/api_key", response_model=ApiKey)
def get_api_key(principal: CurrentUser, auth: Auth, users: Users) -> dict[str, str]:
    """Keys are stored only as a hash: the full key is shown once, at creation."""
    auth.require_api_keys(principal)
    user = users.load(principal.id)
    if not user.api_key_hint:
        raise NotFound(Detail.API_KEY_NOT_FOUND)
    return {"api_key": user.api_key_hint}


@router.delete("/api_key", response_model=bool)
def delete_api_key(principal: CurrentUser, auth: Auth, written: Write) -> bool:
    """Delete the caller's API key."""
    auth.require_api_keys(principal)
    written(auth.delete_api_key(principal))
    return True


@router.get("/admin/config", response_model=AdminConfig)
def get_admin_config(principal: AdminUser, config: Config) -> dict[str, Any]:
    """The instance's sign-up and session settings (admins)."""
    return {**ADMIN_CONFIG_DEFAULTS, **config.values()}


@router.post("/admin/config", response_model=AdminConfig)
def update_admin_config(form: AdminConfig, principal: AdminUser,
                        config: Config, written: Write) -> dict[str, Any]:
    """Change the instance's sign-up and session settings (admins)."""
    values = form.model_dump()
    current = config.values()
    if values["DEFAULT_USER_ROLE"] not in ("pending", "user", "admin"):
        values["DEFAULT_USER_ROLE"] = current.get("DEFAULT_USER_ROLE")
    if not re.match(JWT_EXPIRES_IN_PATTERN, values["JWT_EXPIRES_IN"] or ""):
        values["JWT_EXPIRES_IN"] = current.get("JWT_EXPIRES_IN")
    outcome = config.update(values)
    written(outcome.position)
    return {**ADMIN_CONFIG_DEFAULTS, **outcome.value}
