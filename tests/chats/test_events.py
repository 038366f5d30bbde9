"""What chat commands write to the log: events as small as the change, snapshots for long chats."""

from __future__ import annotations

import asyncio
import uuid

from application.auth import Principal
from tests.chats.helpers import chat_doc, message, with_message


def user(container) -> Principal:
    from domain.user import User

    user_id = str(uuid.uuid4())
    container.store.save(User(user_id=user_id, email=f"{user_id}@x.org", name="E", role="user",
                              password_hash="-", profile_image_url="", stamp="s"))
    return Principal(id=user_id, role="user", via="session")


def long_doc(count: int) -> dict:
    return chat_doc("long", *(f"message {n} " + "x" * 200 for n in range(count)))


def stored_since(container, position: int) -> list:
    return list(container.store.select(position, 1000))


def test_a_message_added_to_a_long_chat_writes_events_the_size_of_the_message(container):
    alice = user(container)
    chat = container.chats.create(alice, long_doc(1000)).value
    created = stored_since(container, container.store.head() - 1)[-1]
    assert len(created.state) > 200_000  # the import carries the chat once
    head = container.store.head()
    # The real client posts the whole chat again, plus one message.
    asyncio.run(container.chats.update(alice, str(chat.id),
                                       with_message(chat.to_chat_json(), "one more")))
    written = stored_since(container, head)
    assert [n.topic.rsplit(".", 1)[-1] for n in written] == ["MessageAdded",
                                                             "CurrentMessageMoved"]
    assert max(len(n.state) for n in written) < 1_000


def test_a_stale_full_save_drops_nothing(container):
    alice = user(container)
    chat = container.chats.create(alice, chat_doc("stale", "a", "b")).value
    stale = chat.to_chat_json()
    asyncio.run(container.chats.update(alice, str(chat.id),
                                       with_message(chat.to_chat_json(), "new", "n1")))
    updated, _ = asyncio.run(container.chats.update(alice, str(chat.id),
                                                    with_message(stale, "other tab", "n2"))).value
    assert set(updated.messages) == {"m0", "m1", "n1", "n2"}


def test_long_chats_are_snapshotted_and_load_from_the_snapshot(container):
    alice = user(container)
    chat = container.chats.create(alice, chat_doc("grows", "start")).value
    doc = chat.to_chat_json()
    for n in range(150):  # one save of 150 new messages crosses version 100
        doc["history"]["messages"][f"k{n}"] = message(f"k{n}", "m0", f"k{n}")
    asyncio.run(container.chats.update(alice, str(chat.id), doc))
    app = container.store.app
    snapshots = list(app.snapshots.get(chat.id, desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version == 100
    at_snapshot = app.repository.get(chat.id, version=100)
    assert len(at_snapshot.messages) == 100  # m0 (v1) and the 99 messages of v2..v100
    assert len(app.repository.get(chat.id, version=151).messages) == 151
    assert container.chats.own(alice, str(chat.id)).to_chat_json()["history"] == \
        container.store.get(chat.id).to_chat_json()["history"]
