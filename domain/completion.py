"""A completion answered to a REST client (`POST /api/chat/completions` without a chat): who
asked, which model, the tokens it used. The web app's replies are recorded on their chat instead
(domain/chat.py); this is the same fact for a request that has no chat to hold it.

One small aggregate per answered request: nothing contends, and the user's key encrypts it.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event


class Completion(Aggregate):
    @event("Answered")
    def __init__(self, user_id: str, model: str, usage: dict[str, Any] | None,
                 streamed: bool, error: str | None = None):
        self.user_id = user_id
        self.model = model
        self.usage = usage
        self.streamed = streamed
        self.error = error

    @property
    def owner_id(self) -> str:
        return self.user_id
