"""The admin's usage analytics (Open WebUI 0.12.4's `/api/v1/analytics/models|tokens|users`),
from the usage read model: replies and tokens per model and per user."""

from __future__ import annotations

from typing import Any, Protocol

Row = dict[str, Any]


class UsageReadModel(Protocol):
    def by(self, column: str, start: int | None, end: int | None) -> list[Row]: ...


class UserNames(Protocol):
    def get(self, user_id: str) -> Row | None: ...


def _int(value: Any) -> int:
    return int(value or 0)


class Analytics:
    def __init__(self, usage: UsageReadModel, users: UserNames):
        self.usage = usage
        self.users = users

    def models(self, start: int | None, end: int | None) -> list[Row]:
        rows = sorted(self.usage.by("model", start, end), key=lambda r: -_int(r["message_count"]))
        return [{"model_id": r["key"], "count": _int(r["message_count"]),
                 "unique_users": _int(r["unique_users"]), "unique_chats": _int(r["unique_chats"])}
                for r in rows]

    def tokens(self, start: int | None, end: int | None) -> Row:
        models = [{"model_id": r["key"], "input_tokens": _int(r["input_tokens"]),
                   "output_tokens": _int(r["output_tokens"]),
                   "total_tokens": _int(r["input_tokens"]) + _int(r["output_tokens"]),
                   "message_count": _int(r["message_count"])}
                  for r in self.usage.by("model", start, end)]
        tokens_in = sum(m["input_tokens"] for m in models)
        tokens_out = sum(m["output_tokens"] for m in models)
        return {"models": models, "total_input_tokens": tokens_in,
                "total_output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}

    def by_user(self, start: int | None, end: int | None, limit: int, metric: str
               ) -> list[Row]:
        rows = self.usage.by("user_id", start, end)
        if metric == "messages":
            rows = sorted(rows, key=lambda r: -_int(r["message_count"]))
        return [self._user(r) for r in rows[:limit]]

    def _user(self, row: Row) -> Row:
        user = self.users.get(row["key"]) or {}
        tokens_in, tokens_out = _int(row["input_tokens"]), _int(row["output_tokens"])
        return {"user_id": row["key"], "name": user.get("name"), "email": user.get("email"),
                "count": _int(row["message_count"]), "input_tokens": tokens_in,
                "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}


