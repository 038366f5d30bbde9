"""Emits published in one turn of a worker's loop reach Redis as one message, in order, and every
worker's listener hands them on one by one (interfaces/realtime/gate.py), on a real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from interfaces.realtime.gate import BATCH, GatedRedisManager
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.postgres  # the Redis half of the real-services tier


def _emit(i: int) -> dict[str, Any]:
    return {"method": "emit", "event": "events", "data": [{"n": i}], "room": "user:x",
            "namespace": "/", "host_id": "h1"}


async def _published(channel: str, count: int) -> list[dict[str, Any]]:
    manager = GatedRedisManager(REDIS_URL, channel=channel)
    watcher = aioredis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    await watcher.subscribe(channel)
    for i in range(count):  # one turn of the loop: no await yields to the flusher in between
        await manager._publish(_emit(i))
    got = await _drain(watcher, 1.0)
    await watcher.aclose()
    return got


async def _drain(watcher: aioredis.client.PubSub, seconds: float) -> list[dict[str, Any]]:
    """Every message on the channel for `seconds` (the subscribe confirmation reads as None)."""
    got = []
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        message = await watcher.get_message(timeout=0.1)
        if message is not None:
            got.append(json.loads(message["data"]))
    return got


def test_one_turns_emits_go_as_one_message_in_order() -> None:
    [message] = asyncio.run(_published(f"test-{uuid.uuid4().hex}", 50))
    assert message["method"] == BATCH
    assert [m["data"][0]["n"] for m in message["messages"]] == list(range(50))


def test_a_lone_emit_goes_as_itself() -> None:
    [message] = asyncio.run(_published(f"test-{uuid.uuid4().hex}", 1))
    assert message == _emit(0)


def test_the_listener_unpacks_a_batch_in_order() -> None:
    async def run() -> list[object]:
        channel = f"test-{uuid.uuid4().hex}"
        manager = GatedRedisManager(REDIS_URL, channel=channel)
        listening = manager._listen()
        first = asyncio.ensure_future(listening.__anext__())
        await asyncio.sleep(0.3)  # subscribed
        sender = aioredis.Redis.from_url(REDIS_URL)
        await sender.publish(channel, json.dumps({"method": BATCH,
                                                  "messages": [_emit(1), _emit(2)]}))
        await sender.publish(channel, json.dumps(_emit(3)))
        out = [await asyncio.wait_for(first, 5)]
        for _ in range(2):
            out.append(await asyncio.wait_for(listening.__anext__(), 5))
        await sender.aclose()
        return out

    assert asyncio.run(run()) == [_emit(1), _emit(2), _emit(3)]
