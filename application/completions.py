"""Chat completions for REST clients (`POST /api/chat/completions` without a chat): the request
runs on the model's connection; a workspace preset applies its base model, system prompt and
parameters. Answers are the upstream's own: a `chat.completion`, or its chunks for a stream.

Only the OpenAI request fields go upstream; the app's own fields (chat ids, files, features...)
never leave the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from application.auth import Principal
from application.catalog import ModelCatalog
from application.commands import CommandRunner
from application.connections import Connection, ConnectionsService
from application.errors import BadRequest
from application.grounding import Grounding, attached_items, last_user_text
from application.llm import LanguageModels
from domain.base import clean_json
from domain.completion import Completion

log = logging.getLogger("chronicle.completions")
MODEL_NOT_FOUND = "Model not found"
UPSTREAM_FIELDS = ("messages", "stream", "temperature", "top_p", "max_tokens",
                   "max_completion_tokens", "stop", "seed", "presence_penalty",
                   "frequency_penalty", "logit_bias", "n", "response_format", "tools",
                   "tool_choice", "user", "stream_options", "reasoning_effort", "logprobs",
                   "top_logprobs")
PRESET_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty",
                 "frequency_penalty", "reasoning_effort")
Row = dict[str, Any]


def with_system(system: str, messages: list[Any]) -> list[Any]:
    """The preset's system prompt first: before the request's own system message, if any."""
    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
        first = messages[0]
        content = first.get("content")
        if isinstance(content, str):
            return [{**first, "content": f"{system}\n{content}"}, *messages[1:]]
    return [{"role": "system", "content": system}, *messages]


class Prepared(NamedTuple):
    connection: Connection
    body: Row  # what goes upstream
    sources: list[Row]  # what grounded it (application/grounding.py), for the caller


class CompletionService:
    def __init__(self, catalog: ModelCatalog, connections: ConnectionsService,
                 llm: LanguageModels, grounding: Grounding | None = None,
                 runner: CommandRunner | None = None):
        self.catalog = catalog
        self.connections = connections
        self.llm = llm
        self.grounding = grounding
        self.runner = runner  # records REST completions (domain/completion.py)

    async def prepare(self, principal: Principal, body: dict[str, Any],
                      ground: bool = True) -> Prepared:
        """The connection to call, the body to send it and the sources found for it; 400
        "Model not found" when the caller may not use the model (0.12.4's answer for both)."""
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise BadRequest(MODEL_NOT_FOUND)
        try:
            base, preset = await self.catalog.resolve(principal, model_id)
        except LookupError:
            raise BadRequest(MODEL_NOT_FOUND) from None
        connection = self.connections.at(base["owned_by"], base["urlIdx"],
                                         await self.connections.values_async())
        if connection is None:
            raise BadRequest(MODEL_NOT_FOUND)
        upstream = {k: body[k] for k in UPSTREAM_FIELDS if k in body}
        upstream["model"] = base["upstream_id"]
        if preset is not None:
            upstream = self._apply(preset.get("params") or {}, upstream)
        sources: list[Row] = []
        items = attached_items(body, preset) if ground and self.grounding else []
        if items and self.grounding is not None:
            messages = list(upstream.get("messages") or [])
            query = last_user_text(messages)
            sources = await asyncio.to_thread(self.grounding.sources, principal, items, query)
            upstream["messages"] = self.grounding.ground(messages, sources, query)
        return Prepared(connection, upstream, sources)

    @staticmethod
    def _apply(params: Row, body: Row) -> Row:
        """A preset's parameters win over the request's (0.12.4 applies them over it)."""
        out = {**body, **{k: params[k] for k in PRESET_PARAMS if params.get(k) is not None}}
        system = params.get("system")
        if isinstance(system, str) and system.strip():
            out["messages"] = with_system(system, list(out.get("messages") or []))
        return out

    async def record(self, principal: Principal, model: str, usage: Any, streamed: bool,
                     error: str | None = None) -> None:
        """A REST completion in the log: who asked which model, and the tokens it used. The
        answer has gone out already: failing to record it is logged, not answered."""
        if self.runner is None:
            return
        runner = self.runner

        def decide() -> tuple[None, list[Any]]:
            return None, [Completion(user_id=principal.id, model=model, streamed=streamed,
                                     usage=clean_json(usage) if isinstance(usage, dict) else None,
                                     error=error)]

        try:
            await asyncio.to_thread(runner.run, "completions.record", decide)
        except Exception:
            log.warning("could not record a completion of %s", model, exc_info=True)

    async def complete(self, connection: Connection, body: Row) -> Row:
        if connection.kind == "openai":
            return await self.llm.openai_chat(connection.base_url, connection.key,
                                              {**body, "stream": False})
        return await collect(self.stream(connection, body), body["model"])

    def stream(self, connection: Connection, body: Row) -> AsyncIterator[Row]:
        if connection.kind == "openai":
            return self.llm.openai_stream(connection.base_url, connection.key,
                                          {**body, "stream": True})
        return self.llm.ollama_stream(connection.base_url, connection.key, body)


async def collect(chunks: AsyncIterator[Row], model: str) -> Row:
    """A stream's chunks as one chat.completion (for connections that only stream)."""
    text: list[str] = []
    finish, usage, completion_id = "stop", None, f"chatcmpl-{uuid.uuid4()}"
    async for chunk in chunks:
        completion_id = chunk.get("id") or completion_id
        for choice in chunk.get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
            finish = choice.get("finish_reason") or finish
        usage = chunk.get("usage") or usage
    reply: Row = {"id": completion_id, "object": "chat.completion", "created": int(time.time()),
                  "model": model, "choices": [{"index": 0, "finish_reason": finish, "message": {
                      "role": "assistant", "content": "".join(text)}}]}
    if usage:
        reply["usage"] = usage
    return reply

