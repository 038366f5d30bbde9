"""The usage read model: one row per finished web-app reply (who asked, which model, the
tokens it used, when), for the admin's analytics (`/api/v1/analytics/*`), and one per REST
completion (domain/completion.py: no chat, so `chat_id` is empty).

A reply's start names its model and user; its end carries the usage. The start is kept in
`usage_pending` until the end arrives, so each table stays a pure function of the log.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.base import epoch
from domain.chat import Chat
from domain.completion import Completion
from domain.erasure import Erasure
from infrastructure.sql import Database, Tx
from projections.runtime import Projector

Row = dict[str, Any]


def _tokens(usage: Any) -> tuple[int, int]:
    """(input, output) tokens in OpenAI's or Ollama's naming; 0 when absent."""
    if not isinstance(usage, dict):
        return 0, 0

    def count(*keys: str) -> int:
        for key in keys:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return min(value, 2**62)
        return 0

    return (count("prompt_tokens", "input_tokens", "prompt_eval_count"),
            count("completion_tokens", "output_tokens", "eval_count"))


class UsageProjector(Projector):
    name = "usage"
    version = 2
    tables = ("usage_pending", "usage_replies")

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {usage_pending} (chat_id TEXT NOT NULL, message_id TEXT NOT NULL,"
            " user_id TEXT NOT NULL, model TEXT NOT NULL, PRIMARY KEY (chat_id, message_id))",
            "CREATE TABLE {usage_replies} (chat_id TEXT NOT NULL, message_id TEXT NOT NULL,"
            " user_id TEXT NOT NULL, model TEXT NOT NULL, input_tokens BIGINT NOT NULL,"
            " output_tokens BIGINT NOT NULL, finished_at BIGINT NOT NULL,"
            " PRIMARY KEY (chat_id, message_id))",
            "CREATE INDEX {usage_replies}_finished ON {usage_replies} (finished_at)",
        ]

    @singledispatchmethod
    def handle(self, event: Any, tx: Tx) -> None:
        pass

    @handle.register
    def _started(self, event: Chat.ReplyStarted, tx: Tx) -> None:
        key = (str(event.originator_id), event.message["id"])
        model = str(event.message.get("model") or "")
        tx.execute(f"DELETE FROM {self.t['usage_pending']} WHERE chat_id = ? AND message_id = ?",
                   key)
        tx.execute(f"INSERT INTO {self.t['usage_pending']} (chat_id, message_id, user_id, model)"
                   f" VALUES (?, ?, ?, ?)", (*key, event.user_id, model))

    @handle.register
    def _finished(self, event: Chat.ReplyFinished, tx: Tx) -> None:
        key = (str(event.originator_id), event.message_id)
        pending = tx.execute(f"SELECT user_id, model FROM {self.t['usage_pending']}"
                             f" WHERE chat_id = ? AND message_id = ?", key)
        if not pending:
            return
        tokens_in, tokens_out = _tokens(event.changes.get("usage"))
        tx.execute(f"DELETE FROM {self.t['usage_pending']} WHERE chat_id = ? AND message_id = ?",
                   key)
        tx.execute(f"DELETE FROM {self.t['usage_replies']} WHERE chat_id = ? AND message_id = ?",
                   key)
        tx.execute(f"INSERT INTO {self.t['usage_replies']} (chat_id, message_id, user_id, model,"
                   f" input_tokens, output_tokens, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (*key, pending[0]["user_id"], pending[0]["model"], tokens_in, tokens_out,
                    epoch(event.timestamp)))

    @handle.register
    def _answered(self, event: Completion.Answered, tx: Tx) -> None:
        tokens_in, tokens_out = _tokens(event.usage)
        tx.execute(f"INSERT INTO {self.t['usage_replies']} (chat_id, message_id, user_id, model,"
                   f" input_tokens, output_tokens, finished_at) VALUES ('', ?, ?, ?, ?, ?, ?)",
                   (str(event.originator_id), event.user_id, event.model, tokens_in, tokens_out,
                    epoch(event.timestamp)))

    @handle.register
    def _purged(self, event: Chat.Purged, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.t['usage_pending']} WHERE chat_id = ?",
                   (str(event.originator_id),))

    @handle.register
    def _user_erased(self, event: Erasure.UserErased, tx: Tx) -> None:
        for table in ("usage_pending", "usage_replies"):
            tx.execute(f"DELETE FROM {self.t[table]} WHERE user_id = ?", (event.user_id,))


class UsageQueries:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def _window(start: int | None, end: int | None) -> tuple[str, list[Any]]:
        clauses, params = ["1 = 1"], []
        if start is not None:
            clauses.append("finished_at >= ?")
            params.append(start)
        if end is not None:
            clauses.append("finished_at <= ?")
            params.append(end)
        return " AND ".join(clauses), params

    def by(self, column: str, start: int | None, end: int | None) -> list[Row]:
        """Totals grouped by `model` or `user_id`, most tokens first."""
        if column not in ("model", "user_id"):
            raise ValueError(column)
        where, params = self._window(start, end)
        return self.db.query(
            f"SELECT {column} AS key, COUNT(*) AS message_count,"
            f" COUNT(DISTINCT user_id) AS unique_users,"
            f" COUNT(DISTINCT NULLIF(chat_id, '')) AS unique_chats,"
            f" SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens"
            f" FROM usage_replies WHERE {where} GROUP BY {column}"
            f" ORDER BY SUM(input_tokens + output_tokens) DESC, COUNT(*) DESC, {column}",
            params)
