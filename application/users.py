"""User use cases: profiles, settings, status, admin updates and deletion; queries via read model."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.access import GrantIndex, revoked
from application.auth import EMAIL_RE, AuthService, Principal
from application.commands import CommandRunner, Outcome
from application.errors import BadRequest, Forbidden, NotFound
from application.messages import Detail
from application.permissions import allowed
from application.ports import EventStorePort, PasswordHasher
from application.read_models import UsersReadModel
from domain.directory import DIRECTORY_ID, LastAdminError
from domain.email_claim import EmailClaim, claim_id, normalise_email
from domain.user import User, new_stamp

PAGE_SIZE = 30
MAX_PAGE = 10**12  # beyond any real listing; keeps OFFSET inside a 64-bit integer
ORDERABLE = {"name", "email", "role", "created_at", "updated_at", "last_active_at"}
GROUP_FIRST = "group_id:"  # order_by "group_id:<id>": that group's members first, then by name


VARIABLE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
VARIABLE_VALUE_MAX = 20_000  # characters, as 0.12.4
VARIABLES_JSON_MAX = 100_000  # characters of the whole object as JSON, as 0.12.4


def validate_user_variables(variables: dict[str, Any]) -> dict[str, str]:
    """0.12.4's rules (utils/chat_variables.py), with its messages (400)."""
    if len(json.dumps(variables, ensure_ascii=False)) > VARIABLES_JSON_MAX:
        raise BadRequest("User variables are too large.")
    checked: dict[str, str] = {}
    for key, value in variables.items():
        if not VARIABLE_KEY.match(key):
            raise BadRequest(f"Invalid user variable key: {key}")
        if not isinstance(value, str):
            raise BadRequest(f"User variable must be a string: {key}")
        value = value.replace("\r\n", "\n")
        if len(value) > VARIABLE_VALUE_MAX:
            raise BadRequest(f"User variable is too long: {key}")
        checked[key] = value
    return checked


def parse_user_id(user_id: str) -> UUID:
    try:
        return UUID(user_id)
    except ValueError:
        raise NotFound(Detail.USER_NOT_FOUND) from None


class UserService:
    def __init__(self, store: EventStorePort, runner: CommandRunner, users: UsersReadModel,
                 auth: AuthService, passwords: PasswordHasher, grants: GrantIndex | None = None):
        self.store = store
        self.grants = grants  # items that grant a user something; their grants go with the user
        self.runner = runner
        self.users = users
        self.auth = auth
        self.passwords = passwords

    # -- loading ----------------------------------------------------------------------------
    def load(self, user_id: str) -> User:
        user = self.store.get(parse_user_id(user_id))
        if user is None or user.deleted:
            raise NotFound(Detail.USER_NOT_FOUND)
        return user

    def _change(self, name: str, user_id: str, change: Callable[[User], None]) -> Outcome[User]:
        def decide() -> tuple[User, list[Any]]:
            user = self._target(user_id)
            change(user)
            return user, [user]

        outcome = self.runner.run(name, decide)
        self.auth.remember(outcome.value)
        return outcome

    def _target(self, user_id: str) -> User:
        """A user a command acts on: unknown (or deleted meanwhile) → 400, as the reference."""
        try:
            return self.load(user_id)
        except NotFound:
            raise BadRequest(Detail.USER_NOT_FOUND) from None

    # -- the signed-in user's own documents -------------------------------------------------
    def update_profile(self, principal: Principal, **fields: Any) -> Outcome[User]:
        return self._change("users.update_profile", principal.id,
                            lambda u: u.update_profile(**fields))

    async def update_settings(self, principal: Principal, settings: dict[str, Any]
                              ) -> Outcome[User]:
        """On the event loop: the busiest command a client sends (every preference change)."""
        def decide() -> tuple[User, list[Any]]:
            user = self._target(principal.id)
            user.update_settings(self._permitted_settings(principal, settings))
            return user, [user]

        return await self.runner.run_async("users.update_settings", decide)

    def _permitted_settings(self, principal: Principal, settings: dict[str, Any]
                            ) -> dict[str, Any]:
        if principal.is_admin:
            return settings
        permissions = self.auth.permissions_of(principal.id)
        if not allowed(permissions, "settings.interface"):
            raise Forbidden(Detail.ACCESS_PROHIBITED)
        ui = settings.get("ui")
        if isinstance(ui, dict) and "toolServers" in ui and \
                not allowed(permissions, "features.direct_tool_servers"):
            return {**settings, "ui": {k: v for k, v in ui.items() if k != "toolServers"}}
        return settings

    def update_info(self, principal: Principal, info: dict[str, Any]) -> Outcome[User]:
        def merge(user: User) -> None:
            user.update_info({**(user.info or {}), **info})

        return self._change("users.update_info", principal.id, merge)

    def set_timezone(self, principal: Principal, timezone: str) -> Outcome[User]:
        return self._change("users.set_timezone", principal.id,
                            lambda u: u.set_timezone(timezone))

    def variables(self, principal: Principal) -> dict[str, str]:
        """The caller's variables (0.12.4 keeps only string values under string keys)."""
        stored = getattr(self.load(principal.id), "variables", None) or {}
        return {k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, str)}

    def update_variables(self, principal: Principal, variables: dict[str, Any]
                         ) -> Outcome[dict[str, str]]:
        checked = validate_user_variables(variables)
        outcome = self._change("users.update_variables", principal.id,
                               lambda u: u.update_variables(checked))
        return Outcome(checked, outcome.position)

    def require_status_enabled(self) -> None:
        if not self.auth.config.enabled("ENABLE_USER_STATUS"):
            raise Forbidden(Detail.ACTION_PROHIBITED)

    def update_status(self, principal: Principal, status: dict[str, Any]) -> Outcome[User]:
        self.require_status_enabled()
        return self._change("users.update_status", principal.id,
                            lambda u: u.update_status(status))

    # -- administration ---------------------------------------------------------------------
    def admin_update(self, principal: Principal, user_id: str, role: str | None,
                     name: str | None, email: str | None, profile_image_url: str | None,
                     password: str | None) -> Outcome[User]:
        if role is not None and role not in ("pending", "user", "admin"):
            raise BadRequest(Detail.ACTION_PROHIBITED)
        directory = self.store.get(DIRECTORY_ID)
        if directory is not None and directory.is_primary(user_id):
            if principal.id != user_id:
                raise Forbidden(Detail.PRIMARY_ADMIN_PROTECTED)
            if role is not None and role != "admin":
                raise Forbidden(Detail.PRIMARY_ADMIN_PROTECTED)
        current = self._target(user_id)  # checked before the (costly) hashing
        if email is not None:
            email = normalise_email(email)
            if not EMAIL_RE.match(email):
                raise BadRequest(Detail.INVALID_EMAIL_FORMAT)
            if email != current.email and self._email_held(email):
                raise BadRequest(Detail.EMAIL_TAKEN)
        password_hash = self.auth._hash(password) if password else None

        def decide() -> tuple[User, list[Any]]:
            user = self._target(user_id)
            touched: list[Any] = [user]
            if role is not None and role != user.role:
                touched += self._directory_for_role(user_id, role)
                user.change_role(role)
            if email is not None and email != user.email:
                touched += self._move_email(user, email)
            changes = {k: v for k, v in {"name": name, "profile_image_url": profile_image_url}
                       .items() if v is not None}
            user.update_profile(**changes)
            if password_hash:
                user.change_password(password_hash, new_stamp())
            return user, touched

        outcome = self.runner.run("users.admin_update", decide)
        self.auth.remember(outcome.value)
        return outcome

    def _email_held(self, email: str) -> bool:
        claim = self.store.get(claim_id(email))
        return claim is not None and claim.held

    def _directory_for_role(self, user_id: str, role: str) -> list[Any]:
        directory = self.store.get(DIRECTORY_ID)
        if directory is None:
            return []
        try:
            if role == "admin":
                directory.add_admin(user_id)
            else:
                directory.remove_admin(user_id)
        except LastAdminError:
            raise Forbidden(Detail.LAST_ADMIN) from None
        return [directory]

    def _move_email(self, user: User, email: str) -> list[Any]:
        new_claim = self.store.get(claim_id(email))
        if new_claim is not None and new_claim.held:
            raise BadRequest(Detail.EMAIL_TAKEN)
        if new_claim is None:
            new_claim = EmailClaim(email=email, user_id=str(user.id))
        else:
            new_claim.reclaim(str(user.id))
        old_claim = self.store.get(claim_id(user.email))
        if old_claim is not None:
            old_claim.release()
        user.change_email(email)
        return [new_claim] + ([old_claim] if old_claim is not None else [])

    def delete(self, principal: Principal, user_id: str) -> Outcome[bool]:
        if user_id == principal.id:
            raise Forbidden(Detail.CANNOT_DELETE_SELF)
        directory = self.store.get(DIRECTORY_ID)
        if directory is not None and directory.is_primary(user_id):
            raise Forbidden(Detail.PRIMARY_ADMIN_PROTECTED)
        granting = self.grants.granting(f"user:{user_id}") if self.grants else []

        def decide() -> tuple[bool, list[Any]]:
            user = self.load(user_id)
            touched: list[Any] = [user, *revoked(self.store, granting, "user", user_id)]
            if user.role == "admin":
                touched += self._directory_for_role(user_id, "user")
            claim = self.store.get(claim_id(user.email))
            if claim is not None and claim.user_id == user_id:
                claim.release()
                touched.append(claim)
            user.delete()
            return True, touched

        outcome = self.runner.run("users.delete", decide)
        self.auth.sessions.drop_auth_state(user_id)
        return outcome

    # -- queries ----------------------------------------------------------------------------
    def page(self, query: str | None, order_by: str | None, direction: str | None,
             page: int | None) -> tuple[list[dict[str, Any]], int]:
        order = order_by if order_by and (order_by in ORDERABLE or order_by.startswith(
            GROUP_FIRST)) else "created_at"
        direction = "asc" if (direction or "").lower() == "asc" else "desc"
        offset = (min(max(1, page), MAX_PAGE) - 1) * PAGE_SIZE if page else 0
        limit = PAGE_SIZE if page else None
        return self.users.page(query, order, direction, offset, limit)

    def get_row(self, user_id: str) -> dict[str, Any]:
        row = self.users.get(user_id)
        if row is None:
            raise NotFound(Detail.USER_NOT_FOUND)
        return row
