"""What the use cases ask of read models (projections implement these)."""

from __future__ import annotations

from typing import Any, Protocol


class UsersReadModel(Protocol):
    def get(self, user_id: str) -> dict[str, Any] | None: ...

    def by_api_key_hash(self, key_hash: str) -> dict[str, Any] | None: ...

    def page(self, query: str | None, order_by: str, direction: str, offset: int,
             limit: int | None) -> tuple[list[dict[str, Any]], int]: ...

    def count(self) -> int: ...
