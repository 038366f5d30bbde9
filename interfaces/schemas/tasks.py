"""The task-model settings form (Open WebUI 0.12.4's TaskConfigForm), bounded."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from interfaces.schemas.models import json_bytes

TEMPLATE_MAX_CHARS = 100_000
Template = Annotated[str, StringConstraints(max_length=TEMPLATE_MAX_CHARS)]
ModelName = Annotated[str, StringConstraints(max_length=1_024)]


class TaskConfigForm(BaseModel):
    TASK_MODEL: ModelName | None = None
    TASK_MODEL_EXTERNAL: ModelName | None = None
    TASK_MODEL_PARAMS: Annotated[dict[str, Any], json_bytes(64 * 1024)] | None = None
    ENABLE_TITLE_GENERATION: bool
    TITLE_GENERATION_PROMPT_TEMPLATE: Template
    IMAGE_PROMPT_GENERATION_PROMPT_TEMPLATE: Template
    ENABLE_AUTOCOMPLETE_GENERATION: bool
    AUTOCOMPLETE_GENERATION_INPUT_MAX_LENGTH: int | None = Field(default=None, ge=-1,
                                                                le=10_000_000)
    AUTOCOMPLETE_GENERATION_PROMPT_TEMPLATE: Template
    TAGS_GENERATION_PROMPT_TEMPLATE: Template
    FOLLOW_UP_GENERATION_PROMPT_TEMPLATE: Template
    ENABLE_FOLLOW_UP_GENERATION: bool
    ENABLE_TAGS_GENERATION: bool
    ENABLE_SEARCH_QUERY_GENERATION: bool
    ENABLE_RETRIEVAL_QUERY_GENERATION: bool
    QUERY_GENERATION_PROMPT_TEMPLATE: Template
    TOOLS_FUNCTION_CALLING_PROMPT_TEMPLATE: Template
    ENABLE_VOICE_MODE_PROMPT: bool
    VOICE_MODE_PROMPT_TEMPLATE: Template | None = None
