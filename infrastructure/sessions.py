"""Session state that is not history: revoked tokens, auth cache, rate limits, presence, last write.

In memory for the embedded default; in Redis when REDIS_URL is set, shared by every worker.
Rate-limit keys are hashed: callers key sign-in limits by e-mail address, and no address may sit
in Redis in the clear (an erasure could not find every one of them).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

AUTH_TTL = 300  # seconds an auth-state cache entry lives without a refresh
SWEEP_EVERY = 1024  # memory sessions: drop expired entries every this many writes


def rate_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


ASYNC_CONNECTIONS = 32  # per API process: each request holds one for one round trip

class MemorySessions:
    blocking = False

    def __init__(self) -> None:
        self._revoked: dict[str, float] = {}
        self._auth: dict[str, tuple[float, dict[str, str]]] = {}
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._active: dict[str, float] = {}
        self._writes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._writes_since_sweep = 0
        self._window = 0  # the longest rate-limit window asked for

    def _sweep(self, now: float) -> None:
        """Without it, every sign-out and every e-mail ever tried would stay in memory."""
        self._writes_since_sweep += 1
        if self._writes_since_sweep < SWEEP_EVERY:
            return
        self._writes_since_sweep = 0
        self._revoked = {j: t for j, t in self._revoked.items() if t > now}
        cutoff = now - self._window
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[key]

    def revoke(self, jti: str, ttl: int) -> None:
        with self._lock:
            now = time.time()
            self._revoked[jti] = now + ttl
            self._sweep(now)

    def auth_state(self, user_id: str, jti: str) -> tuple[dict[str, str] | None, bool]:
        now = time.time()
        expiry = self._revoked.get(jti)
        revoked = expiry is not None and expiry > now
        cached = self._auth.get(user_id)
        if cached is None or cached[0] < now:
            return None, revoked
        return cached[1], revoked

    async def visit(self, user_id: str, jti: str) -> tuple[dict[str, str] | None, bool, int]:
        state, revoked = self.auth_state(user_id, jti)
        self.touch(user_id)
        return state, revoked, self.last_write(user_id)

    def put_auth_state(self, user_id: str, state: dict[str, str]) -> None:
        self._auth[user_id] = (time.time() + AUTH_TTL, state)

    def drop_auth_state(self, user_id: str) -> None:
        self._auth.pop(user_id, None)

    def hit(self, key: str, window: int) -> int:
        now = time.time()
        with self._lock:
            self._window = max(self._window, window)
            self._sweep(now)
            hits = self._hits[rate_key(key)]
            while hits and hits[0] <= now - window:
                hits.popleft()
            hits.append(now)
            return len(hits)

    def touch(self, user_id: str) -> None:
        self._active[user_id] = time.time()

    def last_active(self, user_ids: Sequence[str]) -> dict[str, float]:
        return {u: self._active[u] for u in user_ids if u in self._active}

    def note_write(self, user_id: str, position: int) -> None:
        with self._lock:
            if position > self._writes.get(user_id, 0):
                self._writes[user_id] = position

    def last_write(self, user_id: str) -> int:
        return self._writes.get(user_id, 0)

    def forget_user(self, user_id: str, rate_keys: Sequence[str] = ()) -> None:
        """Everything kept about a user (an erasure): auth state, presence, last write, and
        the rate-limit windows of `rate_keys` (e.g. their sign-in address)."""
        with self._lock:
            self._auth.pop(user_id, None)
            self._active.pop(user_id, None)
            self._writes.pop(user_id, None)
            for key in rate_keys:
                self._hits.pop(rate_key(key), None)

    def ping(self) -> bool:
        return True


class RedisSessions:
    blocking = True

    def __init__(self, url: str, prefix: str = "chronicle"):
        import redis

        self.redis: Any = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2,
                                               health_check_interval=30)
        self.url = url
        self.p = prefix
        self._aredis: tuple[asyncio.AbstractEventLoop, Any] | None = None

    def revoke(self, jti: str, ttl: int) -> None:
        self.redis.set(f"{self.p}:revoked:{jti}", "1", ex=max(1, ttl))

    def auth_state(self, user_id: str, jti: str) -> tuple[dict[str, str] | None, bool]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(f"{self.p}:auth:{user_id}")
        pipe.exists(f"{self.p}:revoked:{jti}")
        state, revoked = pipe.execute()
        return (state or None), bool(revoked)

    async def visit(self, user_id: str, jti: str) -> tuple[dict[str, str] | None, bool, int]:
        pipe = self._async_client().pipeline(transaction=False)
        pipe.hgetall(f"{self.p}:auth:{user_id}")
        pipe.exists(f"{self.p}:revoked:{jti}")
        pipe.hset(f"{self.p}:active", user_id, f"{time.time():.3f}")
        pipe.get(f"{self.p}:lastwrite:{user_id}")
        state, revoked, _, written = await pipe.execute()
        return (state or None), bool(revoked), int(written) if written else 0

    def _async_client(self) -> Any:
        """The asyncio client of the running loop (a client belongs to the loop it met first:
        one per server process, one per test client)."""
        import redis.asyncio

        loop = asyncio.get_running_loop()
        if self._aredis is None or self._aredis[0] is not loop:
            # A burst of requests waits for a connection rather than failing with "Too many
            # connections" (the default pool's answer past its limit: a 500 per request).
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url, decode_responses=True, socket_timeout=2, health_check_interval=30,
                max_connections=ASYNC_CONNECTIONS, timeout=5)
            self._aredis = (loop, redis.asyncio.Redis(connection_pool=pool))
        return self._aredis[1]

    def put_auth_state(self, user_id: str, state: dict[str, str]) -> None:
        key = f"{self.p}:auth:{user_id}"
        pipe = self.redis.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping=state)
        pipe.expire(key, AUTH_TTL)
        pipe.execute()

    def drop_auth_state(self, user_id: str) -> None:
        self.redis.delete(f"{self.p}:auth:{user_id}")

    def hit(self, key: str, window: int) -> int:
        """Sliding window over a sorted set: exact, and shared by every worker."""
        now = time.time()
        zkey = f"{self.p}:rate:{rate_key(key)}"
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(zkey, 0, now - window)
        pipe.zadd(zkey, {f"{now:.6f}-{id(pipe)}": now})
        pipe.zcard(zkey)
        pipe.expire(zkey, window)
        return int(pipe.execute()[2])

    def touch(self, user_id: str) -> None:
        self.redis.hset(f"{self.p}:active", user_id, f"{time.time():.3f}")

    def last_active(self, user_ids: Sequence[str]) -> dict[str, float]:
        if not user_ids:
            return {}
        values = self.redis.hmget(f"{self.p}:active", list(user_ids))
        return {u: float(v) for u, v in zip(user_ids, values, strict=True) if v}

    _NOTE_WRITE = """
    local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
    if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', 600) end
    return 1
    """

    def note_write(self, user_id: str, position: int) -> None:
        self.redis.eval(self._NOTE_WRITE, 1, f"{self.p}:lastwrite:{user_id}", position)

    def last_write(self, user_id: str) -> int:
        value = self.redis.get(f"{self.p}:lastwrite:{user_id}")
        return int(value) if value else 0

    def forget_user(self, user_id: str, rate_keys: Sequence[str] = ()) -> None:
        pipe = self.redis.pipeline()
        pipe.delete(f"{self.p}:auth:{user_id}", f"{self.p}:lastwrite:{user_id}",
                    *(f"{self.p}:rate:{rate_key(k)}" for k in rate_keys))
        pipe.hdel(f"{self.p}:active", user_id)
        pipe.execute()

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:
            return False
