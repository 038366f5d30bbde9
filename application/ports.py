"""Ports the use cases need; infrastructure provides the adapters (wired in interfaces.composition)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO, Protocol
from uuid import UUID


class EventStorePort(Protocol):
    def get(self, aggregate_id: UUID, version: int | None = None) -> Any: ...

    def exists(self, aggregate_id: UUID) -> bool: ...

    def save(self, *aggregates: Any) -> int:
        """Save pending events atomically; return the highest log position written (0 if none)."""
        ...

    async def save_async(self, *aggregates: Any) -> int:
        """`save` awaited on an event loop; encoding may raise `WouldBlock` before any write."""
        ...

    def head(self) -> int: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(valid, replacement hash when the stored one uses a deprecated scheme)."""
        ...


class TokenService(Protocol):
    def issue(self, user_id: str, stamp: str, expires_in: int | None) -> tuple[str, int | None, str]:
        """(jwt, expires_at epoch seconds or None, jti)"""
        ...

    def decode(self, token: str) -> dict[str, Any] | None: ...


class SessionStore(Protocol):
    """Revocations, session stamps, rate limits and presence: never events (Redis or memory)."""

    blocking: bool  # whether a call waits on the network (not to be made on an event loop)

    def revoke(self, jti: str, ttl: int) -> None: ...

    def auth_state(self, user_id: str, jti: str) -> tuple[dict[str, str] | None, bool]:
        """(cached auth state of the user or None, whether jti is revoked): one round trip."""
        ...

    async def visit(self, user_id: str, jti: str) -> tuple[dict[str, str] | None, bool, int]:
        """A request's one round trip, on the event loop: (cached auth state or None, whether
        jti is revoked, the user's last write), the user marked active."""
        ...

    def put_auth_state(self, user_id: str, state: dict[str, str]) -> None: ...

    def drop_auth_state(self, user_id: str) -> None: ...

    def hit(self, key: str, window: int) -> int:
        """Count one attempt in a sliding window of `window` seconds; return the count."""
        ...

    def touch(self, user_id: str) -> None: ...

    def last_active(self, user_ids: Sequence[str]) -> dict[str, float]: ...

    def note_write(self, user_id: str, position: int) -> None: ...

    def last_write(self, user_id: str) -> int: ...

    def forget_user(self, user_id: str, rate_keys: Sequence[str] = ()) -> None:
        """Drop everything kept about a user (erasure)."""
        ...

    def ping(self) -> bool: ...


class ProjectionWaiter(Protocol):
    def wait(self, names: Sequence[str], position: int, timeout: float) -> bool: ...


class JobQueue(Protocol):
    """Background jobs by name (infrastructure.jobs): in-process threads or Dramatiq on Redis.

    Every job must be idempotent: a job may run twice (redelivery, a retry, a startup sweep)."""

    def enqueue(self, name: str, *, delay: float = 0.0, **kwargs: Any) -> None: ...


class BackgroundJobs(JobQueue, Protocol):
    """The queue as the process that owns it sees it: what waits, and how it stops."""

    def depth(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class FileStorage(Protocol):
    """Uploaded bytes (and extracted text), content-addressed by their sha256 hex digest."""

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> tuple[str, int]:
        """Store the bytes; (digest, size). Raises TooLarge beyond max_bytes (nothing kept)."""
        ...

    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...

    def open(self, digest: str) -> BinaryIO: ...

    def local_path(self, digest: str) -> str | None:
        """A path a web server may send directly, when the storage is a local disk."""
        ...

    def exists(self, digest: str) -> bool: ...

    def key(self, digest: str) -> str: ...

    def age(self, digest: str) -> float | None:
        """Seconds since the blob was last written (None when absent)."""
        ...

    def delete(self, digest: str) -> bool: ...


class TooLarge(Exception):
    """An upload exceeded the size limit."""
