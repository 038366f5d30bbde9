"""The command cache hands out private copies of aggregates as they were saved."""

from __future__ import annotations

import threading
import uuid

from domain.chat import Chat
from infrastructure.event_store import CommandCache


def _chat() -> Chat:
    chat = Chat.create(str(uuid.uuid4()), {"title": "first", "history": {"messages": {}}})
    chat.collect_events()
    return chat


def test_each_get_is_a_fresh_copy_of_the_saved_state() -> None:
    cache, chat = CommandCache(), _chat()
    cache.put([chat])
    chat.rename("changed after the save")  # the saved state is what was cached
    first = cache.get(chat.id)
    first.rename("changed by a command that then failed")
    second = cache.get(chat.id)
    assert first is not second
    assert second.title == "first" and second.version == 1


def test_an_aggregate_that_cannot_be_pickled_is_not_cached() -> None:
    cache, chat = CommandCache(), _chat()
    cache.put([chat])
    chat.lock = threading.Lock()  # type: ignore[attr-defined]
    cache.put([chat])
    assert cache.get(chat.id) is None  # the stale copy is gone too


def test_entries_expire() -> None:
    cache, chat = CommandCache(ttl=0.0), _chat()
    cache.put([chat])
    assert cache.get(chat.id) is None
