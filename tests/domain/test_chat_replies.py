"""Replies the server streams into a chat: started, checkpointed by what arrived, ended once."""

from __future__ import annotations

import pytest
from eventsourcing.application import Application

from domain.chat import Chat, ChatError

USER = "u-1"


def started() -> Chat:
    chat = Chat.create(USER, {})
    chat.start_reply({"id": "r1", "role": "assistant", "content": "", "model": "m",
                      "parentId": None, "done": False}, task_id="t1")
    return chat


def test_checkpoints_record_only_what_arrived_since_the_last_one() -> None:
    chat = started()
    assert chat.checkpoint_reply("r1", "Hel") and chat.checkpoint_reply("r1", "Hello wor")
    assert not chat.checkpoint_reply("r1", "Hello wor")  # nothing new
    assert not chat.checkpoint_reply("r1", "Other")  # not a continuation: the end records it
    app = Application()
    app.save(chat)
    events = list(app.repository.event_store.get(chat.id))
    appended = [e.appended for e in events if type(e).__name__ == "ReplyCheckpointed"]
    assert appended == ["Hel", "lo wor"]
    assert chat.messages["r1"]["content"] == "Hello wor" and chat.current_id == "r1"
    assert app.repository.get(chat.id).messages == chat.messages  # the log gives it back


def test_a_reply_ends_once() -> None:
    chat = started()
    chat.finish_reply("r1", {"content": "Hi", "usage": {"total_tokens": 3}})
    assert chat.messages["r1"] == {**chat.messages["r1"], "content": "Hi", "done": True}
    with pytest.raises(ChatError):
        chat.finish_reply("r1", {"content": "again"})
    with pytest.raises(ChatError):
        chat.checkpoint_reply("nope", "x")
