"""Chats and folders on the real services: create, update, messages, pin/archive/tag, trash."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import pytest

from application.auth import Principal
from application.errors import BadRequest, NotFound
from tests.chats.helpers import chat_doc, with_message
from tests.fast.fakes import Services, services

pytestmark = pytest.mark.fast


def new_chat(app: Services, who: Principal, title: str = "Plans", **kwargs: Any) -> str:
    return str(app.chats.create(who, chat_doc(title, "hello", "hi there"), **kwargs).value.id)


def test_a_created_chat_keeps_the_clients_history(app: Services, user: Principal) -> None:
    chat = app.chats.own(user, new_chat(app, user))
    body = chat.to_chat_json()
    assert body["title"] == "Plans"
    assert [m["content"] for m in body["messages"]] == ["hello", "hi there"]
    assert body["history"]["currentId"] == "m1"


def test_a_chat_is_its_owners_alone(app: Services, user: Principal, other: Principal) -> None:
    chat_id = new_chat(app, user)
    with pytest.raises(NotFound):
        app.chats.own(other, chat_id)
    with pytest.raises(NotFound):
        app.chats.toggle_pin(other, chat_id)
    assert app.chats.everything(other.id) == []
    assert [r["id"] for r in app.chats.everything(user.id)] == [chat_id]


def test_updates_and_message_upserts_land_in_the_chat(app: Services, user: Principal) -> None:
    chat_id = new_chat(app, user)
    doc = with_message(chat_doc("Plans", "hello", "hi there"), "and then?")
    asyncio.run(app.chats.update(user, chat_id, doc))
    asyncio.run(app.chats.upsert_message(user, chat_id, "m1", "edited reply"))
    asyncio.run(app.chats.upsert_message(user, chat_id, "late", "a new one"))
    messages = app.chats.own(user, chat_id).messages
    assert messages["m1"]["content"] == "edited reply"
    assert messages["late"]["role"] == "assistant"
    assert "and then?" in [m["content"] for m in messages.values()]


def test_pin_archive_and_tags(app: Services, user: Principal) -> None:
    chat_id = new_chat(app, user)
    app.chats.toggle_pin(user, chat_id)
    app.chats.add_tag(user, chat_id, "Work Stuff")
    app.chats.add_tag(user, chat_id, "work stuff")  # the same tag, normalised
    chat = app.chats.own(user, chat_id)
    assert chat.pinned and chat.tags == ["work_stuff"]
    assert [r["id"] for r in app.chats.pinned(user)] == [chat_id]
    assert app.chats.tags(user) == ["work_stuff"]
    app.chats.toggle_archive(user, chat_id)
    assert app.chats.own(user, chat_id).archived
    assert app.chats.pinned(user) == []  # archived chats leave the pinned list
    app.chats.remove_tag(user, chat_id, "work_stuff")
    assert app.chats.own(user, chat_id).tags == []


def test_bulk_archive_touches_only_the_callers_chats(app: Services, user: Principal,
                                                     other: Principal) -> None:
    mine, theirs = new_chat(app, user), new_chat(app, other)
    app.chats.archive_all(user)
    assert app.chats.own(user, mine).archived
    assert not app.chats.own(other, theirs).archived


def test_trash_and_restore_within_the_window(app: Services, user: Principal) -> None:
    chat_id = new_chat(app, user)
    app.chats.delete(user, chat_id)
    with pytest.raises(NotFound):
        app.chats.own(user, chat_id)
    assert [r["id"] for r in app.chats.trash(user, None)] == [chat_id]
    restored = app.chats.restore(user, chat_id).value
    assert not restored.deleted and restored.title == "Plans"
    assert app.chats.trash(user, None) == []


def test_past_the_window_a_trashed_chat_is_gone() -> None:
    later = [time.time()]
    app = services(clock=lambda: later[0])
    admin, _ = app.auth.signup("Ada", "ada@x.org", "pw", None)
    who = Principal(id=str(admin.user.id), role="admin", via="session")
    chat_id = new_chat(app, who)
    app.chats.delete(who, chat_id)
    later[0] += 31 * 86_400
    assert app.chats.trash(who, None) == []
    with pytest.raises(NotFound):
        app.chats.restore(who, chat_id)


def test_folders_nest_with_unique_names(app: Services, user: Principal) -> None:
    top = str(app.folders.create(user, "Work").value.id)
    sub = str(app.folders.create(user, "Clients", parent_id=top).value.id)
    with pytest.raises(BadRequest):
        app.folders.create(user, "work")  # siblings differ in more than case
    with pytest.raises(BadRequest):
        app.folders.move(user, top, sub)  # not below itself
    assert {r["name"] for r in app.folders.list_folders(user)} == {"Work", "Clients"}


def test_deleting_a_folder_deletes_or_releases_its_chats(app: Services, user: Principal) -> None:
    top = str(app.folders.create(user, "Work").value.id)
    sub = str(app.folders.create(user, "Clients", parent_id=top).value.id)
    kept, doomed = new_chat(app, user, folder_id=top), new_chat(app, user, folder_id=sub)
    app.folders.delete(user, sub, delete_contents=True)
    assert app.store.get(UUID(doomed)).deleted
    app.folders.delete(user, top, delete_contents=False)
    chat = app.chats.own(user, kept)
    assert chat.folder_id is None and not chat.deleted
    assert app.folders.list_folders(user) == []


def test_a_restored_chat_whose_folder_went_returns_to_the_list(app: Services,
                                                               user: Principal) -> None:
    folder = str(app.folders.create(user, "Work").value.id)
    chat_id = new_chat(app, user, folder_id=folder)
    app.chats.delete(user, chat_id)
    app.folders.delete(user, folder, delete_contents=False)
    assert app.chats.restore(user, chat_id).value.folder_id is None


def test_a_chat_cannot_be_filed_in_someone_elses_folder(app: Services, user: Principal,
                                                        other: Principal) -> None:
    folder = str(app.folders.create(other, "Theirs").value.id)
    with pytest.raises((NotFound, BadRequest)):
        new_chat(app, user, folder_id=folder)


def test_a_command_that_lost_a_race_runs_again_on_fresh_state(app: Services,
                                                              user: Principal) -> None:
    chat_id = new_chat(app, user)
    attempts: list[int] = []

    def decide() -> tuple[Any, list[Any]]:
        chat = app.chats.own(user, chat_id)
        if not attempts:  # another writer saves between this load and this save
            rival = app.chats.own(user, chat_id)
            rival.toggle_pinned()
            app.store.save(rival)
        attempts.append(chat.version)
        chat.add_tag("raced")
        return chat, [chat]

    app.chats.runner.run("test.race", decide)
    chat = app.chats.own(user, chat_id)
    assert attempts == [1, 2]
    assert chat.pinned and chat.tags == ["raced"]
