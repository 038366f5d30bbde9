"""/api/v1/audio: speech (TTS, STT, realtime voice) is not offered here (see the README's "Out of
scope"; /api/config sends no engines). The app's reads answer 0.12.4's empty state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from interfaces.deps import AdminUser, VerifiedUser

router = APIRouter(prefix="/api/v1/audio", tags=["audio"])

# 0.12.4's config fields, every engine unset ("" is its "none/browser" choice).
AUDIO_CONFIG: dict[str, dict[str, Any]] = {
    "realtime": {"ENABLED": False, "PROVIDER": "openai", "AUTH_TYPE": "api_key",
                 "OPENAI_API_BASE_URL": "", "OPENAI_API_KEY": "", "MODEL": "", "VOICE": "",
                 "TRANSCRIPTION_MODEL": "", "INPUT_PARAMS": None,
                 "REALTIME_CALL_PROMPT_TEMPLATE": None},
    "tts": {"OPENAI_API_BASE_URL": "", "OPENAI_API_KEY": "", "OPENAI_PARAMS": None,
            "API_KEY": "", "ENGINE": "", "MODEL": "", "VOICE": "",
            "REALTIME_TTS_PROMPT_TEMPLATE": None, "SPLIT_ON": "punctuation"},
    "stt": {"OPENAI_API_BASE_URL": "", "OPENAI_API_KEY": "", "ENGINE": "", "MODEL": "",
            "SUPPORTED_CONTENT_TYPES": [], "ALLOWED_EXTENSIONS": [], "WHISPER_MODEL": ""},
}


@router.get("/config")
def audio_config(principal: AdminUser) -> dict[str, Any]:
    """The speech settings (no engine configured)."""
    return AUDIO_CONFIG


@router.get("/voices")
def voices(principal: VerifiedUser) -> dict[str, Any]:
    """The voices text-to-speech offers (none)."""
    return {"voices": []}
