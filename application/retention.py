"""The retention policy: scheduled commands that move old chats to the trash and empty it.

Chats not updated for CHAT_RETENTION_DAYS (when set) go to the trash; chats in the trash longer
than CHAT_TRASH_RETENTION_DAYS are purged. The read model only nominates candidates (it may lag
the log): each command re-checks its chats on their aggregates, so a chat written to meanwhile
stays, and running the policy twice has no further effect. The events it records name the
retention policy as their actor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from application.chats import DAY
from application.commands import CommandRunner
from application.context import Actor, acting_as
from application.ids import parse_uuid
from application.ports import EventStorePort
from domain.chat import Chat

BATCH = 100  # chats per command: one group-committed save each

Progress = Callable[[int, int], None]  # (chats done, chats nominated)


class RetentionReadModel(Protocol):
    def last_updated_by(self, cutoff: int) -> list[str]: ...

    def trashed_by(self, cutoff: int) -> list[str]: ...


@dataclass
class RetentionReport:
    nominated: int = 0
    trashed: int = 0
    purged: int = 0


def _batches(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


class RetentionPolicy:
    def __init__(self, store: EventStorePort, runner: CommandRunner, chats: RetentionReadModel,
                 chat_days: float = 0.0, trash_days: float = 30.0):
        self.store = store
        self.runner = runner
        self.chats = chats
        self.chat_seconds = chat_days * DAY  # 0: chats are never trashed for their age
        self.trash_seconds = trash_days * DAY

    def run(self, now: float, progress: Progress | None = None) -> RetentionReport:
        """Apply the policy as of `now` (epoch seconds)."""
        with acting_as(Actor.system("retention")):
            stale = (self.chats.last_updated_by(math.floor(now - self.chat_seconds))
                     if self.chat_seconds > 0 else [])
            expired = self.chats.trashed_by(math.floor(now - self.trash_seconds))
            report = RetentionReport(nominated=len(stale) + len(expired))
            done = 0
            for batch in _batches(stale):
                report.trashed += self._apply("retention.trash", batch,
                                              lambda chat: self._stale(chat, now), Chat.delete)
                done += len(batch)
                if progress:
                    progress(done, report.nominated)
            for batch in _batches(expired):
                report.purged += self._apply("retention.purge", batch,
                                             lambda chat: self._expired(chat, now), Chat.purge)
                done += len(batch)
                if progress:
                    progress(done, report.nominated)
            return report

    def _stale(self, chat: Chat, now: float) -> bool:
        return not chat.deleted and chat.updated_at <= now - self.chat_seconds

    def _expired(self, chat: Chat, now: float) -> bool:
        purge_at = chat.purge_at(self.trash_seconds)
        return purge_at is not None and purge_at <= now

    def _apply(self, name: str, ids: Sequence[str], due: Callable[[Chat], bool],
               command: Callable[[Chat], None]) -> int:
        def decide() -> tuple[int, list[Any]]:
            chats = [c for c in map(self._load, ids) if c is not None and due(c)]
            for chat in chats:
                command(chat)
            return len(chats), chats

        return self.runner.run(name, decide).value

    def _load(self, chat_id: str) -> Chat | None:
        parsed = parse_uuid(chat_id)
        chat = self.store.get(parsed) if parsed else None
        return chat if isinstance(chat, Chat) else None
