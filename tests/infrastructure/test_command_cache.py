"""The command cache hands out private copies of aggregates as they were saved, never later
state."""

from __future__ import annotations

import threading
import uuid

from domain.chat import Chat
from infrastructure.command_cache import LARGE, CommandCache, thaw


def _chat() -> Chat:
    chat = Chat.create(str(uuid.uuid4()), {"title": "first", "history": {"messages": {}}})
    chat.collect_events()
    return chat


def test_each_get_is_a_fresh_copy_of_the_saved_state() -> None:
    cache, chat = CommandCache(), _chat()
    chat.fields["nested"] = {"tags": ["a"]}
    cache.put([chat])
    first = cache.get(chat.id)
    first.rename("changed by a command that then failed")
    first.fields["nested"]["tags"].append("b")
    second = cache.get(chat.id)
    assert first is not second
    assert second.title == "first" and second.version == 1
    assert second.fields["nested"] == {"tags": ["a"]}


def test_an_aggregate_changed_after_its_save_is_not_served() -> None:
    cache, chat = CommandCache(), _chat()
    cache.put([chat])
    chat.rename("changed after the save, never saved")
    assert cache.get(chat.id) is None


def test_large_state_is_copied_too() -> None:
    cache, chat = CommandCache(), _chat()
    chat.fields["many"] = {str(i): {"n": [i]} for i in range(LARGE + 1)}
    cache.put([chat])
    copy = cache.get(chat.id)
    copy.fields["many"]["0"]["n"].append(-1)
    assert cache.get(chat.id).fields["many"]["0"] == {"n": [0]}


def test_thaw_shares_only_what_cannot_change() -> None:
    value = {"a": [1, {"b": {2, 3}}], "t": (["x"],), "s": "text"}
    copied = thaw(value)
    assert copied == value
    assert copied["a"] is not value["a"] and copied["a"][1]["b"] is not value["a"][1]["b"]
    assert copied["t"][0] is not value["t"][0]


def test_an_aggregate_that_cannot_be_copied_is_not_served() -> None:
    cache, chat = CommandCache(), _chat()
    chat.lock = threading.Lock()  # type: ignore[attr-defined]
    cache.put([chat])
    assert cache.get(chat.id) is None


def test_entries_expire() -> None:
    cache, chat = CommandCache(ttl=0.0), _chat()
    cache.put([chat])
    assert cache.get(chat.id) is None
