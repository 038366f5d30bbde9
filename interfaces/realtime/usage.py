"""Which models clients are using right now (Open WebUI's usage pool): chatter, never events.

Clients send `usage` about once a second while a model answers; an entry older than TIMEOUT
seconds no longer counts. In Redis when configured (shared by every worker), else in memory.
"""

from __future__ import annotations

import time
from typing import Any

TIMEOUT = 3.0
SEP = "\x1f"


class UsagePool:
    def __init__(self, redis_url: str = "", key: str = "chronicle:usage"):
        self.key = key
        self.redis: Any = None
        if redis_url:
            from redis import asyncio as aioredis

            self.redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        self._local: dict[str, float] = {}  # "model SEP sid" -> last seen
        self._models_of: dict[str, set[str]] = {}  # sid -> models, to clean up on disconnect

    async def touch(self, sid: str, model: str) -> None:
        member, now = f"{model}{SEP}{sid}", time.time()
        self._models_of.setdefault(sid, set()).add(model)
        if self.redis is None:
            self._local[member] = now
        else:
            await self.redis.zadd(self.key, {member: now})

    async def drop(self, sid: str) -> None:
        members = [f"{m}{SEP}{sid}" for m in self._models_of.pop(sid, ())]
        if not members:
            return
        if self.redis is None:
            for member in members:
                self._local.pop(member, None)
        else:
            await self.redis.zrem(self.key, *members)

    def size(self) -> int:
        """Entries held in this process (per socket; the Redis set is shared and times out)."""
        return len(self._models_of) + len(self._local)

    async def models(self) -> list[str]:
        cutoff = time.time() - TIMEOUT
        if self.redis is None:
            self._local = {m: t for m, t in self._local.items() if t >= cutoff}
            members = list(self._local)
        else:
            await self.redis.zremrangebyscore(self.key, 0, cutoff)
            members = await self.redis.zrange(self.key, 0, -1)
        return sorted({m.split(SEP, 1)[0] for m in members})

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
