"""The open replies read model: assistant replies that started and have not finished yet.

The sweeper (application/replies.py) reads it to find replies whose streaming process died, so
that they are marked interrupted instead of staying "in progress" for ever.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.base import epoch
from domain.chat import Chat
from domain.erasure import Erasure
from infrastructure.availability import is_read_model_missing
from infrastructure.sql import Database, Tx
from projections.runtime import Projector


class OpenRepliesProjector(Projector):
    name = "open_replies"
    version = 1
    tables = ("open_replies",)

    def ddl(self) -> list[str]:
        return [
            "CREATE TABLE {open_replies} (chat_id TEXT NOT NULL, message_id TEXT NOT NULL,"
            " user_id TEXT NOT NULL, task_id TEXT NOT NULL, started_at BIGINT NOT NULL,"
            " PRIMARY KEY (chat_id, message_id))",
            "CREATE INDEX {open_replies}_started ON {open_replies} (started_at)",
        ]

    @singledispatchmethod
    def handle(self, event: Any, tx: Tx) -> None:
        pass

    @handle.register
    def _started(self, event: Chat.ReplyStarted, tx: Tx) -> None:
        chat_id = str(event.originator_id)
        tx.execute(f"DELETE FROM {self.t['open_replies']} WHERE chat_id = ? AND message_id = ?",
                   (chat_id, event.message["id"]))
        tx.execute(f"INSERT INTO {self.t['open_replies']} (chat_id, message_id, user_id,"
                   f" task_id, started_at) VALUES (?, ?, ?, ?, ?)",
                   (chat_id, event.message["id"], event.user_id, event.task_id,
                    epoch(event.timestamp)))

    @handle.register
    def _finished(self, event: Chat.ReplyFinished, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.t['open_replies']} WHERE chat_id = ? AND message_id = ?",
                   (str(event.originator_id), event.message_id))

    @handle.register
    def _purged(self, event: Chat.Purged, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.t['open_replies']} WHERE chat_id = ?",
                   (str(event.originator_id),))

    @handle.register
    def _user_erased(self, event: Erasure.UserErased, tx: Tx) -> None:
        tx.execute(f"DELETE FROM {self.t['open_replies']} WHERE user_id = ?", (event.user_id,))


class OpenRepliesQueries:
    def __init__(self, db: Database):
        self.db = db

    def started_before(self, cutoff: int, limit: int = 500) -> list[dict[str, Any]]:
        try:
            return self.db.query("SELECT chat_id, message_id, task_id FROM open_replies"
                                 " WHERE started_at <= ? ORDER BY started_at LIMIT ?",
                                 (cutoff, limit))
        except Exception as error:  # a first start: the sweeper runs before the projector
            if is_read_model_missing(error):
                return []
            raise
