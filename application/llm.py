"""The language-model port: what the completion use cases ask of an upstream server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class UpstreamError(Exception):
    """An upstream answered an error (its status and message), or could not be reached."""

    def __init__(self, status: int, message: str, body: Any = None, mid_stream: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body  # the upstream's JSON error, passed through as 0.12.4 does
        self.mid_stream = mid_stream


class LanguageModels(Protocol):
    async def openai_models(self, base_url: str, key: str) -> list[dict[str, Any]]: ...

    async def ollama_models(self, base_url: str, key: str) -> list[dict[str, Any]]: ...

    async def ollama_version(self, base_url: str, key: str) -> dict[str, Any]: ...

    async def openai_chat(self, base_url: str, key: str, body: dict[str, Any]
                          ) -> dict[str, Any]: ...

    def openai_stream(self, base_url: str, key: str, body: dict[str, Any]
                      ) -> AsyncIterator[dict[str, Any]]: ...

    def ollama_stream(self, base_url: str, key: str, body: dict[str, Any]
                      ) -> AsyncIterator[dict[str, Any]]: ...
