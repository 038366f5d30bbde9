"""A small language-model server for tests and benchmarks: OpenAI-compatible (`/v1/models`,
`/v1/chat/completions`) and Ollama-compatible (`/api/tags`, `/api/version`, `/api/chat`).

Deterministic replies, streamed at a set token rate, and faults on demand by model name:

  echo          "You said: <last user message>", one token per word; a task prompt (asking
                for a JSON `title`, `tags`, `follow_ups` or `queries`) gets such a JSON answer
  inspect       the request it received (model, messages, parameters) as JSON text
  fault-401 / fault-429 / fault-500   that status with an OpenAI error body
  slow-first    waits `--slow` seconds before the first token
  drop-mid      sends three tokens, then drops the connection

Run it in its own process: `python -m tests.llm_server --port 0` prints `port N` once it listens.
With `--key K` every request needs `Authorization: Bearer K` (else 401).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

MODELS = ("echo", "inspect", "fault-401", "fault-429", "fault-500", "slow-first", "drop-mid")
OLLAMA_MODELS = ("llama-test:latest",)
FAULTS = {"fault-401": (401, "Incorrect API key provided"),
          "fault-429": (429, "Rate limit reached"),
          "fault-500": (500, "The server had an error")}


TASK_ANSWERS = {  # a task prompt asks for one of these JSON keys: answered in kind
    '{"title":': {"title": "Echo Title"},
    '{"tags":': {"tags": ["Testing", "Echo"]},
    '{"follow_ups":': {"follow_ups": ["And then?", "Why?"]},
    '{"queries":': {"queries": ["echo query"]},
}


def reply_text(body: dict[str, Any]) -> str:
    model = body.get("model", "")
    if model == "inspect":
        seen = {k: v for k, v in body.items() if k not in ("stream",)}
        return json.dumps(seen, sort_keys=True)
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    last = users[-1].get("content", "") if users else ""
    if isinstance(last, list):
        last = "".join(p.get("text", "") for p in last if isinstance(p, dict))
    for asked, answer in TASK_ANSWERS.items():
        if asked in last:
            return "Here you go: " + json.dumps(answer)
    return f"You said: {last}"


def tokens(text: str) -> list[str]:
    """Words with their following space: joined again they give the text back."""
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


class Upstream:
    def __init__(self, rate: float, slow: float, key: str, stamp: bool = False):
        self.delay = 1.0 / rate if rate > 0 else 0.0
        self.slow = slow
        self.key = key
        self.stamp = stamp  # each chunk says when it was sent (a benchmark's clock)

    def authorised(self, request: web.Request) -> bool:
        return not self.key or request.headers.get("Authorization") == f"Bearer {self.key}"

    @staticmethod
    def error(status: int, message: str) -> web.Response:
        return web.json_response({"error": {"message": message, "type": "test_error",
                                            "code": status}}, status=status)

    async def paced(self, model: str, parts: list[str]) -> AsyncIterator[tuple[int, str]]:
        for i, part in enumerate(parts):
            if i == 0 and model == "slow-first":
                await asyncio.sleep(self.slow)
            elif self.delay:
                await asyncio.sleep(self.delay)
            yield i, part

    # -- OpenAI ---------------------------------------------------------------------------
    async def models(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return self.error(401, "Incorrect API key provided")
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "test"}
            for m in MODELS]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if not self.authorised(request):
            return self.error(401, "Incorrect API key provided")
        body = await request.json()
        model = body.get("model", "")
        if model in FAULTS:
            return self.error(*FAULTS[model])
        parts = tokens(reply_text(body))
        usage = {"prompt_tokens": 7, "completion_tokens": len(parts),
                 "total_tokens": 7 + len(parts)}
        if not body.get("stream"):
            return web.json_response({
                "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": model, "usage": usage, "choices": [{
                    "index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "".join(parts)}}]})
        return await self._stream(request, model, parts, usage)

    async def _stream(self, request: web.Request, model: str, parts: list[str],
                      usage: dict[str, int]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        peer = request.transport.get_extra_info("peername") if request.transport else None
        fingerprint = f"peer-{peer[1]}" if peer else "peer-unknown"  # which connection asked

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            data = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1,
                    "model": model, "system_fingerprint": fingerprint,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            if self.stamp:
                data["sent_at"] = time.time()
            return f"data: {json.dumps(data)}\n\n".encode()

        async for i, part in self.paced(model, parts):
            if model == "drop-mid" and i == 3:
                assert request.transport is not None
                request.transport.close()  # mid-stream, without a final chunk
                return response
            await response.write(chunk({"content": part}))
        await response.write(chunk({}, "stop", usage=usage))
        await response.write(b"data: [DONE]\n\n")
        return response

    # -- Ollama ---------------------------------------------------------------------------
    async def tags(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [
            {"name": m, "model": m, "modified_at": "2026-01-01T00:00:00Z", "size": 1,
             "details": {"family": "test"}} for m in OLLAMA_MODELS]})

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.9.0-test"})

    async def ollama_chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        parts = tokens(reply_text(body))
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        async for _, part in self.paced(body.get("model", ""), parts):
            line = {"model": body.get("model"), "message": {"role": "assistant",
                                                            "content": part}, "done": False}
            await response.write((json.dumps(line) + "\n").encode())
        done = {"model": body.get("model"), "message": {"role": "assistant", "content": ""},
                "done": True, "done_reason": "stop", "prompt_eval_count": 5,
                "eval_count": len(parts)}
        await response.write((json.dumps(done) + "\n").encode())
        return response


def app(rate: float = 0.0, slow: float = 1.0, key: str = "",
        stamp: bool = False) -> web.Application:
    upstream = Upstream(rate, slow, key, stamp)
    application = web.Application()
    application.router.add_get("/v1/models", upstream.models)
    application.router.add_post("/v1/chat/completions", upstream.chat)
    application.router.add_get("/api/tags", upstream.tags)
    application.router.add_get("/api/version", upstream.version)
    application.router.add_post("/api/chat", upstream.ollama_chat)
    return application


async def serve(port: int, **options: Any) -> None:
    runner = web.AppRunner(app(**options))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {bound}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.0, help="tokens per second (0: at once)")
    parser.add_argument("--slow", type=float, default=1.0, help="slow-first's wait, seconds")
    parser.add_argument("--key", default="")
    parser.add_argument("--stamp", action="store_true", help="each chunk carries `sent_at`")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.port, rate=args.rate, slow=args.slow, key=args.key,
                          stamp=args.stamp))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
