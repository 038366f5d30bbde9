"""Permissions: Open WebUI 0.12.4's defaults, overridden by an admin, merged for a user."""

from __future__ import annotations

import copy
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
