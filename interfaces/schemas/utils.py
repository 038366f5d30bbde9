"""Request models of /api/v1/utils/* (Open WebUI 0.12.4 names: CodeForm, MarkdownForm,
ChatTitleMessagesForm). The bounds keep one request's conversion cost small; the conversions
also run under a time budget (infrastructure.isolation.Isolated)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from interfaces.schemas.models import JSON_DEPTH_MAX, json_depth

EMAIL_MAX_CHARS = 320
CODE_MAX_CHARS = 256 * 1024  # not in reference
EXECUTE_MAX_CHARS = 1024 * 1024  # code sent to Jupyter (not in reference)
MARKDOWN_MAX_CHARS = 256 * 1024  # not in reference
TITLE_MAX_CHARS = 1_000  # not in reference
PDF_MESSAGES_MAX = 1_000  # not in reference
PDF_TEXT_MAX_CHARS = 256 * 1024  # all message contents together (not in reference)


class CodeForm(BaseModel):
    code: Annotated[str, StringConstraints(max_length=CODE_MAX_CHARS)]


class ExecuteForm(BaseModel):
    code: Annotated[str, StringConstraints(max_length=EXECUTE_MAX_CHARS)]


class MarkdownForm(BaseModel):
    md: Annotated[str, StringConstraints(max_length=MARKDOWN_MAX_CHARS)]


class ChatTitleMessagesForm(BaseModel):
    title: Annotated[str, StringConstraints(max_length=TITLE_MAX_CHARS)]
    messages: list[dict[str, Any]] = Field(max_length=PDF_MESSAGES_MAX)

    @field_validator("messages")
    @classmethod
    def _bounded_text(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if json_depth(messages) > JSON_DEPTH_MAX:
            raise ValueError(f"messages must nest at most {JSON_DEPTH_MAX} levels deep")
        total = sum(len(str(m.get("content") or "")) + len(str(m.get("model") or ""))
                    for m in messages)
        if total > PDF_TEXT_MAX_CHARS:
            raise ValueError(f"messages may hold at most {PDF_TEXT_MAX_CHARS} characters")
        return messages
