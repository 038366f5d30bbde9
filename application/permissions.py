"""Permissions: Open WebUI 0.12.4's defaults, overridden by an admin, merged for a user."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

DEFAULT_PERMISSIONS: dict[str, dict[str, bool]] = {
    "workspace": {
        "models": False,
        "knowledge": False,
        "prompts": False,
        "tools": False,
        "skills": False,
        "models_import": False,
        "models_export": False,
        "models_hidden": False,
        "prompts_import": False,
        "prompts_export": False,
        "tools_import": False,
        "tools_export": False,
        "skills_import": False,
        "skills_export": False
    },
    "sharing": {
        "models": False,
        "public_models": False,
        "knowledge": False,
        "public_knowledge": False,
        "prompts": False,
        "public_prompts": False,
        "tools": False,
        "public_tools": False,
        "skills": False,
        "public_skills": False,
        "notes": False,
        "public_notes": False,
        "folders": False,
        "public_chats": False,
        "open_chats": False,
        "public_calendars": False
    },
    "access_grants": {
        "allow_users": True,
        "allow_groups": True
    },
    "chat": {
        "controls": True,
        "valves": True,
        "system_prompt": True,
        "params": True,
        "file_upload": True,
        "web_upload": True,
        "delete": True,
        "delete_message": True,
        "continue_response": True,
        "regenerate_response": True,
        "rate_response": True,
        "edit": True,
        "share": True,
        "export": True,
        "import": True,
        "stt": True,
        "tts": True,
        "call": True,
        "multiple_models": True,
        "temporary": True,
        "temporary_enforced": False
    },
    "features": {
        "api_keys": False,
        "notes": True,
        "channels": True,
        "encrypted_channels": False,
        "folders": True,
        "direct_tool_servers": False,
        "web_search": True,
        "image_generation": True,
        "code_interpreter": True,
        "memories": True,
        "automations": False,
        "calendar": True,
        "webhooks": False
    },
    "settings": {
        "interface": True
    }
}


def effective_permissions(overrides: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The defaults with an admin's saved overrides laid over them, section by section."""
    merged = copy.deepcopy(DEFAULT_PERMISSIONS)
    for section, values in (overrides or {}).items():
        if isinstance(values, dict):
            merged.setdefault(section, {}).update(values)
    return merged


def allowed(permissions: dict[str, Any], path: str) -> bool:
    """`path` like "workspace.models"."""
    node: Any = permissions
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return bool(node)


def combine_permissions(permissions: dict[str, Any], granted: dict[str, Any]) -> dict[str, Any]:
    """`permissions` widened by a group's: the most permissive value wins, key by key, at every
    depth (Open WebUI 0.12.4's `combine_permissions`); a key only the group names is taken."""
    out = dict(permissions)
    for key, value in granted.items():
        if isinstance(value, dict):
            below = out.get(key)
            out[key] = combine_permissions(below if isinstance(below, dict) else {}, value)
        else:
            out[key] = out[key] or value if key in out else value
    return out


class EffectivePermissions:
    """The one place a user's permissions come from: the admin's defaults combined with the
    permissions of every group the user belongs to, directly or through a child group."""

    def __init__(self, defaults: Callable[[], dict[str, Any]],
                 group_permissions: Callable[[str], list[dict[str, Any]]]):
        self.defaults = defaults
        self.group_permissions = group_permissions

    def __call__(self, user_id: str) -> dict[str, Any]:
        permissions = copy.deepcopy(self.defaults())
        for granted in self.group_permissions(user_id):
            if isinstance(granted, dict):
                permissions = combine_permissions(permissions, granted)
        return permissions
