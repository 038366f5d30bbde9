"""/api/v1/images: image generation and editing are not offered here (see the README's "Out of
scope"; /api/config switches them off). The admin page reads 0.12.4's settings, all off."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import AdminUser

router = APIRouter(prefix="/api/v1/images", tags=["images"])

_TEXT = ("IMAGE_GENERATION_ENGINE", "IMAGE_GENERATION_MODEL", "IMAGES_OPENAI_API_BASE_URL",
         "IMAGES_OPENAI_API_KEY", "IMAGES_OPENAI_API_VERSION", "AUTOMATIC1111_BASE_URL",
         "COMFYUI_BASE_URL", "COMFYUI_API_KEY", "COMFYUI_WORKFLOW", "IMAGES_GEMINI_API_BASE_URL",
         "IMAGES_GEMINI_API_KEY", "IMAGES_GEMINI_ENDPOINT_METHOD", "IMAGE_EDIT_ENGINE",
         "IMAGE_EDIT_MODEL", "IMAGES_EDIT_OPENAI_API_BASE_URL", "IMAGES_EDIT_OPENAI_API_KEY",
         "IMAGES_EDIT_OPENAI_API_VERSION", "IMAGES_EDIT_GEMINI_API_BASE_URL",
         "IMAGES_EDIT_GEMINI_API_KEY", "IMAGES_EDIT_COMFYUI_BASE_URL",
         "IMAGES_EDIT_COMFYUI_API_KEY", "IMAGES_EDIT_COMFYUI_WORKFLOW")
IMAGES_OFF: dict[str, Any] = {
    **dict.fromkeys(_TEXT, ""),
    "ENABLE_IMAGE_GENERATION": False, "ENABLE_IMAGE_PROMPT_GENERATION": False,
    "ENABLE_IMAGE_EDIT": False, "IMAGE_SIZE": None, "IMAGE_STEPS": None,
    "IMAGE_EDIT_SIZE": None, "IMAGES_OPENAI_API_PARAMS": None, "AUTOMATIC1111_API_AUTH": None,
    "AUTOMATIC1111_PARAMS": None, "COMFYUI_WORKFLOW_NODES": [],
    "IMAGES_EDIT_COMFYUI_WORKFLOW_NODES": [],
}


@router.get("/config")
def images_config(principal: AdminUser) -> dict[str, Any]:
    """Image generation and editing settings (off)."""
    return IMAGES_OFF
