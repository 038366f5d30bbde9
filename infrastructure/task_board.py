"""The replies running across API workers (the `TaskBoard` port of application/replies.py), on
Redis: which tasks run in a chat, who owns them, and a stop that reaches the worker running one.

Each task is a key with a short time to live that its worker refreshes while the reply streams,
so a worker that dies leaves no task "running" for longer than that; a chat's set of task ids is
filtered by those keys. A stop for a task another worker runs is published on a channel every
worker listens to; the one that holds the task cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from application.replies import LocalTasks

log = logging.getLogger("chronicle.tasks")
TTL_SECONDS = 30
POOL_SIZE = 32
REFRESH_SECONDS = 10


class RedisTasks:
    def __init__(self, url: str, prefix: str):
        self.url = url
        self.prefix = prefix
        self.local = LocalTasks()
        self._redis: aioredis.Redis | None = None
        self._listener: asyncio.Task[Any] | None = None
        self._refresher: asyncio.Task[Any] | None = None

    # -- keys -----------------------------------------------------------------------------
    def _task(self, task_id: str) -> str:
        return f"{self.prefix}:task:{task_id}"

    def _chat(self, chat_id: str) -> str:
        return f"{self.prefix}:chat-tasks:{chat_id}"

    @property
    def _channel(self) -> str:
        return f"{self.prefix}:task-stops"

    def _client(self) -> aioredis.Redis:
        # Created on first use, on the loop that serves requests (a client belongs to a loop).
        if self._redis is None:
            # A blocking pool: a burst of replies waits for a connection instead of failing.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, max_connections=POOL_SIZE, timeout=10, decode_responses=True)
            self._redis = aioredis.Redis(connection_pool=pool)
            self._listener = asyncio.create_task(self._listen())
            self._refresher = asyncio.create_task(self._refresh())
        return self._redis

    # -- the port -------------------------------------------------------------------------
    async def add(self, task_id: str, chat_id: str, user_id: str, task: asyncio.Task[Any]
                  ) -> None:
        await self.local.add(task_id, chat_id, user_id, task)
        redis = self._client()
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.set(self._task(task_id), json.dumps([chat_id, user_id]), ex=TTL_SECONDS)
                pipe.sadd(self._chat(chat_id), task_id)
                pipe.expire(self._chat(chat_id), 24 * 3600)
                await pipe.execute()
        except RedisError:
            # The reply still runs and this worker can stop it; other workers cannot see it.
            log.warning("could not put task %s on the shared board", task_id, exc_info=True)

    async def remove(self, task_id: str) -> None:
        found = self.local.running.get(task_id)
        await self.local.remove(task_id)
        redis = self._client()
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._task(task_id))
                if found is not None:
                    pipe.srem(self._chat(found[0]), task_id)
                await pipe.execute()
        except RedisError:  # its key expires on its own within TTL_SECONDS
            log.warning("could not take task %s off the shared board", task_id, exc_info=True)

    async def of_chat(self, chat_id: str) -> list[str]:
        redis = self._client()
        members = sorted(str(m) for m in await redis.smembers(self._chat(chat_id)))
        if not members:
            return []
        alive = await redis.mget([self._task(t) for t in members])
        return [t for t, value in zip(members, alive, strict=True) if value is not None]

    async def owner(self, task_id: str) -> str | None:
        value = await self._client().get(self._task(task_id))
        return str(json.loads(value)[1]) if value else None

    async def stop(self, task_id: str) -> None:
        if task_id in self.local.running:
            await self.local.stop(task_id)
        else:
            await self._client().publish(self._channel, task_id)

    # -- background -----------------------------------------------------------------------
    async def _listen(self) -> None:
        while True:
            try:
                pubsub = aioredis.Redis.from_url(self.url, decode_responses=True).pubsub()
                await pubsub.subscribe(self._channel)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self.local.stop(str(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("task stop listener lost Redis; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def _refresh(self) -> None:
        """Keep this worker's running tasks alive in Redis (a dead worker's expire)."""
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            with contextlib.suppress(Exception):
                redis = self._client()
                async with redis.pipeline(transaction=False) as pipe:
                    for task_id in list(self.local.running):
                        pipe.expire(self._task(task_id), TTL_SECONDS)
                    await pipe.execute()
