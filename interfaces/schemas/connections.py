"""Bodies of the connection settings routes (Open WebUI 0.12.4's forms), bounded."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from interfaces.schemas.models import json_bytes

URLS_MAX = 64  # connections of one kind (not in reference)
URL_MAX_CHARS = 2_048
KEY_MAX_CHARS = 4_096
CONFIGS_MAX_BYTES = 256 * 1024

Url = Annotated[str, StringConstraints(max_length=URL_MAX_CHARS, pattern=r"^(https?://\S*)?$")]
Key = Annotated[str, StringConstraints(max_length=KEY_MAX_CHARS)]
Configs = Annotated[dict[str, Any], json_bytes(CONFIGS_MAX_BYTES)]


class OpenAIConfigForm(BaseModel):
    ENABLE_OPENAI_API: bool | None = None
    OPENAI_API_BASE_URLS: list[Url] = Field(max_length=URLS_MAX)
    OPENAI_API_KEYS: list[Key] = Field(max_length=URLS_MAX)
    OPENAI_API_CONFIGS: Configs = Field(default_factory=dict)


class OllamaConfigForm(BaseModel):
    ENABLE_OLLAMA_API: bool | None = None
    OLLAMA_BASE_URLS: list[Url] = Field(max_length=URLS_MAX)
    OLLAMA_API_CONFIGS: Configs = Field(default_factory=dict)


class ConnectionForm(BaseModel):
    """`POST /openai/verify` and `/ollama/verify`: one connection to try."""

    model_config = ConfigDict(extra="ignore")

    url: Url
    key: Key = ""


class ConnectionsConfigForm(BaseModel):
    ENABLE_DIRECT_CONNECTIONS: bool
    ENABLE_DIRECT_INTEGRATIONS: bool = False
    ENABLE_BASE_MODELS_CACHE: bool


class ModelsConfigForm(BaseModel):
    DEFAULT_MODELS: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    DEFAULT_PINNED_MODELS: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    MODEL_ORDER_LIST: list[Annotated[str, StringConstraints(max_length=1_024)]] | None = Field(
        default=None, max_length=10_000)
    DEFAULT_MODEL_METADATA: Configs | None = None
    DEFAULT_MODEL_PARAMS: Configs | None = None
