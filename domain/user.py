"""The User aggregate: identity, role, credentials and the user's own settings."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.base import DeletedError, SoftDeleted, epoch

ROLES = ("pending", "user", "admin")


class UserError(ValueError):
    pass


class UserDeletedError(UserError, DeletedError):
    """A command was sent to a deleted user."""


def new_stamp() -> str:
    return secrets.token_hex(8)


class User(SoftDeleted, Aggregate):
    deleted_error = UserDeletedError
    deleted_message = "user is deleted"

    @staticmethod
    def create_id(user_id: str) -> UUID:
        return UUID(user_id)

    @event("Registered")
    def __init__(self, user_id: str, email: str, name: str, role: str, password_hash: str,
                 profile_image_url: str, stamp: str):
        if role not in ROLES:
            raise UserError(f"unknown role {role}")
        self.email = email
        self.name = name
        self.role = role
        self.password_hash = password_hash
        self.profile_image_url = profile_image_url
        self.session_stamp = stamp
        self.bio: str | None = None
        self.gender: str | None = None
        self.date_of_birth: str | None = None
        self.settings: dict[str, Any] | None = None
        self.info: dict[str, Any] | None = None
        self.status: dict[str, Any] = {}
        self.timezone: str | None = None
        self.variables: dict[str, str] = {}
        self.api_key_hash: str | None = None
        self.api_key_hint: str | None = None
        self.deleted = False
        self.created_at = epoch(self.created_on)
        self.updated_at = self.created_at

    @property
    def owner_id(self) -> str:
        return str(self.id)

    def _touch(self) -> None:
        self.updated_at = epoch(self.modified_on)

    # -- profile ----------------------------------------------------------------------------
    def update_profile(self, **changes: Any) -> None:
        self._live()
        allowed = {"name", "profile_image_url", "bio", "gender", "date_of_birth"}
        if not set(changes) <= allowed:
            raise UserError(f"unknown profile fields {sorted(set(changes) - allowed)}")
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changed:
            self._profile_updated(changed)

    @event("ProfileUpdated")
    def _profile_updated(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self._touch()

    def change_email(self, email: str) -> None:
        self._live()
        if email != self.email:
            self._email_changed(email)

    @event("EmailChanged")
    def _email_changed(self, email: str) -> None:
        self.email = email
        self._touch()

    # -- role and credentials ---------------------------------------------------------------
    def change_role(self, role: str) -> None:
        self._live()
        if role not in ROLES:
            raise UserError(f"unknown role {role}")
        if role != self.role:
            self._role_changed(role)

    @event("RoleChanged")
    def _role_changed(self, role: str) -> None:
        self.role = role
        self._touch()

    def change_password(self, password_hash: str, stamp: str) -> None:
        """A new password ends every session issued before it."""
        self._live()
        self._password_changed(password_hash, stamp)

    @event("PasswordChanged")
    def _password_changed(self, password_hash: str, stamp: str) -> None:
        self.password_hash = password_hash
        self.session_stamp = stamp
        self._touch()

    def rehash_password(self, password_hash: str) -> None:
        """Same password, stronger scheme: sessions stay valid."""
        self._live()
        self._password_rehashed(password_hash)

    @event("PasswordRehashed")
    def _password_rehashed(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def create_api_key(self, key_hash: str, hint: str) -> None:
        self._live()
        self._api_key_created(key_hash, hint)

    @event("ApiKeyCreated")
    def _api_key_created(self, key_hash: str, hint: str) -> None:
        self.api_key_hash = key_hash
        self.api_key_hint = hint

    def delete_api_key(self) -> None:
        self._live()
        if self.api_key_hash is not None:
            self._api_key_deleted()

    @event("ApiKeyDeleted")
    def _api_key_deleted(self) -> None:
        self.api_key_hash = None
        self.api_key_hint = None

    # -- the user's own documents -----------------------------------------------------------
    def update_settings(self, changes: dict[str, Any]) -> None:
        """0.12.4's rule: top-level keys replace; `ui` is patched key by key (an omitted key
        keeps its value, null removes it), so a page saving a few preferences loses no other.
        The event records the settings as they became."""
        self._live()
        current = self.settings or {}
        settings = {**current, **{k: v for k, v in changes.items() if k != "ui"}}
        ui_changes = changes.get("ui")
        if isinstance(ui_changes, dict):
            ui = dict(current.get("ui") or {})
            for key, value in ui_changes.items():
                if value is None:
                    ui.pop(key, None)
                else:
                    ui[key] = value
            settings["ui"] = ui
        if settings != current:
            self._settings_updated(settings)

    @event("SettingsUpdated")
    def _settings_updated(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._touch()

    def update_info(self, info: dict[str, Any]) -> None:
        self._live()
        if info != self.info:
            self._info_updated(info)

    @event("InfoUpdated")
    def _info_updated(self, info: dict[str, Any]) -> None:
        self.info = info
        self._touch()

    def update_status(self, status: dict[str, Any]) -> None:
        self._live()
        if status != self.status:
            self._status_updated(status)

    @event("StatusUpdated")
    def _status_updated(self, status: dict[str, Any]) -> None:
        self.status = status
        self._touch()

    def set_timezone(self, timezone: str) -> None:
        """The browser's IANA time zone, as the web app reports it on every page load."""
        self._live()
        if timezone != getattr(self, "timezone", None):
            self._timezone_set(timezone)

    @event("TimezoneSet")
    def _timezone_set(self, timezone: str) -> None:
        self.timezone = timezone

    def update_variables(self, variables: dict[str, str]) -> None:
        """The user's own prompt variables (`{{user.variables.<key>}}`), replaced whole."""
        self._live()
        if variables != getattr(self, "variables", {}):
            self._variables_updated(variables)

    @event("VariablesUpdated")
    def _variables_updated(self, variables: dict[str, str]) -> None:
        self.variables = variables
        self._touch()

    def delete(self) -> None:
        self._live()
        self._deleted()

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True
        self.session_stamp = ""
        self.api_key_hash = None
