"""The upstream adapter against the test language-model server in its own process."""

from __future__ import annotations

import asyncio
from typing import Any

from infrastructure.llm_client import HttpLLM
from tests.completions.conftest import KEY, Upstream

BODY = {"model": "echo", "stream": True, "messages": [{"role": "user", "content": "one two"}]}


def test_streams_one_after_another_reuse_the_upstream_connection(upstream: Upstream) -> None:
    """What follows `[DONE]` is read, so the connection goes back to the pool: the next
    request's first token does not wait for a new connection."""
    async def run() -> list[Any]:
        llm, peers = HttpLLM(), []
        for _ in range(3):
            chunks = [c async for c in llm.openai_stream(upstream.openai_url, KEY, BODY)]
            assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == \
                "You said: one two"
            peers.append(chunks[0]["system_fingerprint"])
        return peers

    peers = asyncio.run(run())
    assert len(set(peers)) == 1, peers
