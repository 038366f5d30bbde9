"""HTTP to language-model servers: OpenAI-compatible (`/models`, `/chat/completions`) and Ollama
(`/api/tags`, `/api/version`, `/api/chat`), with one pooled client per process.

Every call has a connect timeout and a timeout between chunks, so an upstream that hangs costs a
bounded wait, never a hung request. Failures come back as `UpstreamError` with the upstream's
status and message (its own `{"error": {"message": ...}}` when it sent one), never a traceback.
Ollama's NDJSON chat stream is turned into OpenAI chunks here, so the application sees one shape.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from application.llm import UpstreamError

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 120.0  # between two chunks: a slow first token is still allowed to come
LIST_TIMEOUT = 5.0  # model lists are fetched while a page waits


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _message(response_body: bytes, status: int) -> str:
    """The upstream's own error message when it sent one, else its status line."""
    try:
        data = json.loads(response_body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(data.get("detail"), str):
            return data["detail"]
    text = response_body.decode("utf-8", "replace").strip()[:500]
    return text or httpx.codes.get_reason_phrase(status) or f"HTTP {status}"


def _body(response_body: bytes) -> Any:
    try:
        return orjson.loads(response_body)
    except ValueError:  # strict JSON only: NaN and the like still get the lenient parser
        pass
    try:
        return json.loads(response_body)
    except ValueError:
        return None


class HttpLLM:
    """The `LanguageModels` port over httpx."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None):
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        # Created lazily, on the loop that first uses it (the server's).
        if self._client is None:
            timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(timeout=timeout, limits=limits,
                                             transport=self._transport)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- lists ----------------------------------------------------------------------------
    async def _get_json(self, url: str, key: str) -> Any:
        try:
            response = await self._http().get(url, headers=_headers(key), timeout=LIST_TIMEOUT)
        except httpx.HTTPError as error:
            raise UpstreamError(502, f"{type(error).__name__}: {error}") from None
        if response.status_code >= 400:
            raise UpstreamError(response.status_code,
                                _message(response.content, response.status_code),
                                _body(response.content))
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(502, "the server did not answer JSON") from None

    async def openai_models(self, base_url: str, key: str) -> list[dict[str, Any]]:
        data = await self._get_json(f"{base_url.rstrip('/')}/models", key)
        items = data.get("data") if isinstance(data, dict) else data
        return [m for m in items or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def ollama_models(self, base_url: str, key: str) -> list[dict[str, Any]]:
        data = await self._get_json(f"{base_url.rstrip('/')}/api/tags", key)
        items = data.get("models") if isinstance(data, dict) else None
        return [m for m in items or [] if isinstance(m, dict) and isinstance(m.get("model")
                                                                              or m.get("name"), str)]

    async def ollama_version(self, base_url: str, key: str) -> dict[str, Any]:
        data = await self._get_json(f"{base_url.rstrip('/')}/api/version", key)
        return data if isinstance(data, dict) else {}

    # -- chat -----------------------------------------------------------------------------
    async def openai_chat(self, base_url: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{base_url.rstrip('/')}/chat/completions"
        try:
            response = await self._http().post(url, json=body, headers=_headers(key))
        except httpx.HTTPError as error:
            raise UpstreamError(500, "Open WebUI: Server Connection Error") from error
        if response.status_code >= 400:
            raise UpstreamError(response.status_code,
                                _message(response.content, response.status_code),
                                _body(response.content))
        data = _body(response.content)
        if not isinstance(data, dict):
            raise UpstreamError(502, "the server did not answer JSON")
        return data

    async def openai_stream(self, base_url: str, key: str, body: dict[str, Any]
                            ) -> AsyncIterator[dict[str, Any]]:
        """The upstream's chunks, parsed; `UpstreamError` before the first one, or mid-way
        (`mid_stream=True`) when the stream breaks."""
        url = f"{base_url.rstrip('/')}/chat/completions"
        async with self._open(url, key, body) as response:
            lines = _lines(response)
            async for line in lines:
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    await _drain(lines)
                    return
                chunk = _body(payload)
                if isinstance(chunk, dict):
                    yield chunk

    async def ollama_stream(self, base_url: str, key: str, body: dict[str, Any]
                            ) -> AsyncIterator[dict[str, Any]]:
        """Ollama's /api/chat stream as OpenAI chat.completion.chunk objects."""
        url = f"{base_url.rstrip('/')}/api/chat"
        request = _ollama_request(body)
        completion_id = f"chatcmpl-{uuid.uuid4()}"
        async with self._open(url, key, request) as response:
            async for line in _lines(response):
                part = _body(line)
                if isinstance(part, dict):
                    if part.get("error"):
                        raise UpstreamError(500, str(part["error"]), mid_stream=True)
                    yield _ollama_chunk(part, body.get("model", ""), completion_id)

    def _open(self, url: str, key: str, body: dict[str, Any]) -> Any:
        return _Opened(self._http(), url, key, body)


class _Opened:
    """`async with`: a streaming POST, its status checked before any chunk is read."""

    def __init__(self, http: httpx.AsyncClient, url: str, key: str, body: dict[str, Any]):
        self.http, self.url, self.key, self.body = http, url, key, body
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        request = self.http.build_request("POST", self.url, json=self.body,
                                          headers=_headers(self.key))
        try:
            self.response = await self.http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise UpstreamError(500, "Open WebUI: Server Connection Error") from error
        if self.response.status_code >= 400:
            content = await self.response.aread()
            await self.response.aclose()
            raise UpstreamError(self.response.status_code,
                                _message(content, self.response.status_code), _body(content))
        return self.response

    async def __aexit__(self, *exc: object) -> None:
        if self.response is not None:
            await self.response.aclose()


async def _drain(lines: AsyncIterator[bytes], within: float = 0.25) -> None:
    """Read what follows `[DONE]` (the body's end) so the connection goes back to the pool for
    the next request instead of being closed; an upstream that keeps sending is cut off."""
    try:
        async with asyncio.timeout(within):
            async for _ in lines:
                pass
    except (TimeoutError, UpstreamError):
        pass


async def _lines(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body's non-blank lines, as bytes: split here rather than through httpx's text and
    line decoders, whose layers of generators cost more than the JSON of a streamed token."""
    rest = b""
    try:
        async for block in response.aiter_bytes():
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.strip():
                    yield line.rstrip(b"\r")
    except httpx.HTTPError as error:
        raise UpstreamError(502, f"stream broken: {type(error).__name__}",
                            mid_stream=True) from None
    if rest.strip():
        yield rest.rstrip(b"\r")


def _ollama_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as Ollama's /api/chat takes it."""
    options: dict[str, Any] = {k: body[k] for k in ("temperature", "top_p", "seed", "stop")
                               if k in body}
    if "max_tokens" in body:
        options["num_predict"] = body["max_tokens"]
    messages = [{"role": m.get("role"), "content": _text(m.get("content"))}
                for m in body.get("messages") or [] if isinstance(m, dict)]
    return {"model": body.get("model"), "messages": messages, "stream": True,
            **({"options": options} if options else {})}


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _ollama_chunk(part: dict[str, Any], model: str, completion_id: str) -> dict[str, Any]:
    message = part.get("message") or {}
    done = bool(part.get("done"))
    chunk: dict[str, Any] = {
        "id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": {} if done else {"content": message.get("content", "")},
                     "finish_reason": (part.get("done_reason") or "stop") if done else None}]}
    if done:
        prompt, completion = part.get("prompt_eval_count") or 0, part.get("eval_count") or 0
        chunk["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}
    return chunk
