import copy
import json
import uuid

import pytest
from eventsourcing.application import Application
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.chat import Chat, ChatDeletedError, ChatError, ChatNotDeletedError
from domain.tags import normalize_tag

USER = "user-1"
ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}

PROPERTY = settings(max_examples=40, deadline=None)


def message(mid, parent, role="user", content="", **extra):
    return {
        "id": mid,
        "parentId": parent,
        "childrenIds": [],
        "role": role,
        "content": content,
        "timestamp": 1700000000,
        **extra,
    }


def client_chat(messages, current_id=None, **top):
    """A chat JSON shaped like Open WebUI's frontend sends it."""
    tree = {m["id"]: m for m in messages}
    for m in messages:
        if m["parentId"] in tree:
            tree[m["parentId"]]["childrenIds"].append(m["id"])
    current = current_id or (messages[-1]["id"] if messages else None)
    return {
        "id": "",
        "title": "New Chat",
        "models": ["llama3"],
        "params": {},
        "history": {"messages": tree, "currentId": current},
        "messages": [tree[m["id"]] for m in messages],
        "tags": [],
        "timestamp": 1700000000000,
        **top,
    }


def two_turns():
    return [
        message("u1", None, "user", "hi"),
        message("a1", "u1", "assistant", "hello", model="llama3", done=True),
    ]


def new_chat(**kwargs):
    chat = Chat.create(USER, client_chat(two_turns()), **kwargs)
    chat.collect_events()
    return chat


def event_names(chat):
    return [type(e).__name__ for e in chat.collect_events()]


def payload(event):
    return {k: v for k, v in vars(event).items() if k not in ENVELOPE}


def replayed(chat, snapshot=False):
    """Save through a real (in-memory) application and load it back."""
    app = Application(env={"IS_SNAPSHOTTING_ENABLED": "y"} if snapshot else {})
    app.save(chat)
    if snapshot:
        app.take_snapshot(chat.id)
    return app.repository.get(chat.id)


# ---- creation ---------------------------------------------------------------------


def test_create_from_client_json():
    chat = Chat.create(USER, client_chat(two_turns(), title="Greeting", tags=["Work Stuff"]))
    assert chat.owner_id == chat.user_id == USER
    assert chat.title == "Greeting"
    assert chat.tags == ["work_stuff"]
    assert chat.current_id == "a1"
    assert chat.fields == {"models": ["llama3"], "params": {}, "timestamp": 1700000000000}
    assert set(chat.messages) == {"u1", "a1"}
    assert "childrenIds" not in chat.messages["u1"]
    assert not (chat.pinned or chat.archived or chat.deleted)
    assert chat.share_id is None and chat.folder_id is None and chat.origin is None
    assert chat.created_at == chat.updated_at == int(chat.created_on.timestamp())
    assert event_names(chat) == ["Created"]


def test_title_defaults_to_new_chat():
    assert Chat.create(USER, {}).title == "New Chat"
    assert Chat.create(USER, {"title": ""}).title == "New Chat"
    assert Chat.create(USER, None).to_chat_json()["messages"] == []


def test_to_chat_json_derives_children_and_linear_messages():
    turns = [*two_turns(), message("a2", "u1", "assistant", "regenerated")]
    chat = Chat.create(USER, client_chat(turns, current_id="a1"))
    doc = chat.to_chat_json()
    assert doc["id"] == str(chat.id)
    assert doc["history"]["currentId"] == "a1"
    assert doc["history"]["messages"]["u1"]["childrenIds"] == ["a1", "a2"]
    assert [m["id"] for m in doc["messages"]] == ["u1", "a1"]
    assert doc["models"] == ["llama3"] and doc["timestamp"] == 1700000000000
    doc["history"]["messages"]["u1"]["content"] = "mutated"
    doc["models"].append("x")
    assert chat.messages["u1"]["content"] == "hi" and chat.fields["models"] == ["llama3"]


def test_create_ignores_unknown_current_id_and_copies_input():
    doc = client_chat(two_turns(), current_id="nope")
    chat = Chat.create(USER, doc)
    assert chat.current_id is None
    doc["history"]["messages"]["u1"]["content"] = "changed later by the caller"
    assert chat.messages["u1"]["content"] == "hi"


def test_create_imports_meta_tags_and_timestamps():
    chat = Chat.create(
        USER,
        client_chat(two_turns()),
        meta={"tags": ["A b"], "internal": True},
        pinned=True,
        folder_id="f1",
        created_at=100,
        updated_at=200,
    )
    assert chat.tags == ["a_b"] and chat.meta == {"internal": True}
    assert chat.response_meta() == {"internal": True, "tags": ["a_b"]}
    assert (chat.created_at, chat.updated_at, chat.pinned, chat.folder_id) == (100, 200, True, "f1")


def test_legacy_linear_messages_become_history():
    chat = Chat.create(USER, {"messages": [{"role": "user", "content": "hi"}]})
    assert chat.current_id == "legacy-0"
    assert chat.to_chat_json()["messages"][0]["content"] == "hi"


def test_explicit_chat_id_is_deterministic():
    chat_id = str(uuid.uuid4())
    assert Chat.create(USER, {}, chat_id=chat_id).id == uuid.UUID(chat_id)
    assert Chat.create(USER, {}, chat_id=chat_id).id == Chat.create(USER, {}, chat_id=chat_id).id
    assert Chat.create(USER, {}).id != Chat.create(USER, {}).id
    with pytest.raises(ChatError):
        Chat.create(USER, {}, chat_id="not-a-uuid")


def test_null_bytes_are_stripped():
    chat = Chat.create(USER, client_chat([message("u1", None, content="a\x00b")], title="t\x00"))
    assert chat.messages["u1"]["content"] == "ab" and chat.title == "t"


@pytest.mark.parametrize(
    "bad",
    [
        {"history": []},
        {"history": {"messages": {"x": "text"}}},
        {"tags": "a"},
        {"title": 5},
        {"models": {1, 2}},
    ],
)
def test_invalid_chat_json_is_rejected(bad):
    with pytest.raises(ChatError):
        Chat.create(USER, bad)


def test_tag_normalisation():
    assert normalize_tag(" Machine Learning ") == "machine_learning"
    chat = Chat.create(USER, {"tags": ["A", "a", {"name": "B c"}, "None", ""]})
    assert chat.tags == ["a", "b_c"]


# ---- apply_update -------------------------------------------------------------------


def test_resending_the_same_chat_records_nothing():
    chat = new_chat()
    chat.apply_update(client_chat(two_turns()))
    chat.apply_update(chat.to_chat_json())
    assert event_names(chat) == []


def test_appending_a_turn_records_only_the_new_messages():
    chat = new_chat(created_at=100, updated_at=100)
    turns = [*two_turns(), message("u2", "a1", content="more"), message("a2", "u2", "assistant")]
    chat.apply_update(client_chat(turns))
    events = chat.collect_events()
    assert [type(e).__name__ for e in events] == [
        "MessageAdded",
        "MessageAdded",
        "CurrentMessageMoved",
    ]
    assert payload(events[0]) == {
        "message": {k: v for k, v in turns[2].items() if k != "childrenIds"}
    }
    assert chat.to_chat_json()["history"]["messages"]["a1"]["childrenIds"] == ["u2"]
    assert chat.updated_at > 100


def test_streamed_content_records_only_changed_keys():
    chat = new_chat()
    turns = two_turns()
    turns[1].update(content="hello there", done=True)
    chat.apply_update(client_chat(turns))
    (edited,) = chat.collect_events()
    assert type(edited).__name__ == "MessageEdited"
    assert payload(edited) == {"message_id": "a1", "changes": {"content": "hello there"}}


def test_title_and_fields_change_without_touching_updated_at():
    chat = new_chat(created_at=100, updated_at=100)
    chat.apply_update({"title": "Renamed", "params": {"temperature": 0.2}, "models": ["llama3"]})
    events = chat.collect_events()
    assert [type(e).__name__ for e in events] == ["TitleChanged", "FieldsChanged"]
    assert payload(events[1]) == {"changes": {"params": {"temperature": 0.2}}}
    assert chat.title == "Renamed" and chat.updated_at == 100
    assert chat.fields["timestamp"] == 1700000000000  # shallow merge keeps absent keys


def test_stale_writer_never_drops_messages():
    chat = new_chat()
    stale = chat.to_chat_json()
    chat.apply_update(client_chat([*two_turns(), message("u2", "a1", content="from tab A")]))
    # Tab B still holds the old chat and adds its own turn under a1.
    stale_messages = list(stale["history"]["messages"].values())
    chat.apply_update(client_chat([*stale_messages, message("u3", "a1", content="from tab B")]))
    assert set(chat.messages) == {"u1", "a1", "u2", "u3"}
    assert chat.to_chat_json()["history"]["messages"]["a1"]["childrenIds"] == ["u2", "u3"]
    assert chat.current_id == "u3"


def test_current_id_moves_only_to_known_messages():
    chat = new_chat()
    chat.apply_update({"history": {"messages": {}, "currentId": "ghost"}})
    assert chat.current_id == "a1" and event_names(chat) == []
    chat.apply_update({"history": {"messages": {}, "currentId": "u1"}})
    assert chat.current_id == "u1" and event_names(chat) == ["CurrentMessageMoved"]


def test_update_tags_and_origin_keys():
    chat = new_chat()
    chat.apply_update({"tags": ["X Y"], "originalChatId": "forged"})
    assert chat.tags == ["x_y"] and chat.origin is None
    assert event_names(chat) == ["TagsChanged"]


def test_invalid_update_records_nothing():
    chat = new_chat()
    with pytest.raises(ChatError):
        chat.apply_update({"title": "ok", "tags": [1]})
    assert chat.title == "New Chat" and event_names(chat) == []


def test_event_size_follows_the_message_not_the_chat():
    turns = [message("m0", None, content="x" * 200)]
    for i in range(1, 1000):
        turns.append(message(f"m{i}", f"m{i - 1}", content="x" * 200))
    chat = Chat.create(USER, client_chat(turns))
    created_size = len(json.dumps(payload(chat.collect_events()[0])))
    new = message("m1000", "m999", content="a new question")
    chat.apply_update(client_chat([*turns, new]))
    events = chat.collect_events()
    sizes = [len(json.dumps(payload(e))) for e in events]
    assert [type(e).__name__ for e in events] == ["MessageAdded", "CurrentMessageMoved"]
    assert created_size > 200_000
    assert max(sizes) < 2 * len(json.dumps(new)) and sum(sizes) < 500


# ---- single-message commands ------------------------------------------------------------


def test_upsert_message_adds_or_merges_and_moves_current():
    chat = new_chat()
    chat.upsert_message("a2", {"parentId": "u1", "role": "assistant", "content": "x"})
    assert chat.messages["a2"]["id"] == "a2" and chat.current_id == "a2"
    assert event_names(chat) == ["MessageAdded", "CurrentMessageMoved"]
    chat.upsert_message("a1", {"content": "edited"})
    assert chat.messages["a1"]["content"] == "edited" and chat.messages["a1"]["done"] is True
    assert event_names(chat) == ["MessageEdited", "CurrentMessageMoved"]
    chat.upsert_message("a1", {"content": "edited"})
    assert event_names(chat) == []


def test_message_events_are_recorded_and_persisted_when_relevant():
    chat = new_chat(created_at=100, updated_at=100)
    chat.record_message_event("a1", "status", {"description": "Searching", "done": False})
    chat.record_message_event("a1", "typing", {})
    chat.record_message_event("ghost", "status", {"description": "lost"})
    events = chat.collect_events()
    assert [type(e).__name__ for e in events] == [
        "MessageEventRecorded", "MessageEdited", "MessageEventRecorded", "MessageEventRecorded"]
    assert payload(events[0]) == {
        "message_id": "a1",
        "event_type": "status",
        "data": {"description": "Searching", "done": False},
    }
    assert payload(events[1]) == {
        "message_id": "a1",
        "changes": {"statusHistory": [{"description": "Searching", "done": False}]},
    }
    assert chat.messages["a1"]["statusHistory"] == [{"description": "Searching", "done": False}]
    assert "ghost" not in chat.messages and chat.updated_at > 100


# ---- flags, placement, tags, meta -----------------------------------------------------


def test_pin_and_archive_toggles():
    chat = new_chat(folder_id="f1")
    chat.toggle_pinned()
    chat.pin()
    assert chat.pinned
    chat.toggle_pinned()
    assert not chat.pinned
    chat.toggle_archived()
    assert chat.archived and chat.folder_id is None  # Open WebUI un-files archived chats
    chat.archive()
    chat.toggle_archived()
    assert not chat.archived
    assert event_names(chat) == ["Pinned", "Unpinned", "Archived", "Unarchived"]


def test_move_to_folder_unpins():
    chat = new_chat(pinned=True)
    chat.move_to_folder("f1")
    chat.move_to_folder("f1")
    assert chat.folder_id == "f1" and not chat.pinned
    chat.move_to_folder(None)
    assert chat.folder_id is None
    assert event_names(chat) == ["MovedToFolder", "MovedToFolder"]


def test_share_republishes_only_when_changed():
    chat = new_chat()
    chat.share("s1")
    chat.share("s1")
    assert chat.share_id == "s1" and event_names(chat) == ["Shared"]
    chat.rename("changed")
    chat.share("s1")
    assert event_names(chat) == ["TitleChanged", "Shared"]
    chat.unshare()
    chat.unshare()
    assert chat.share_id is None and event_names(chat) == ["Unshared"]
    with pytest.raises(ChatError):
        chat.share("")


def test_tag_commands():
    chat = new_chat()
    chat.add_tag("Big Idea")
    chat.add_tag("big idea")
    chat.add_tag("other")
    chat.remove_tag("OTHER")
    chat.remove_tag("missing")
    assert chat.tags == ["big_idea"]
    chat.set_tags(["big idea"])
    chat.clear_tags()
    chat.clear_tags()
    assert chat.tags == []
    assert event_names(chat) == ["TagAdded", "TagAdded", "TagRemoved", "TagsCleared"]
    with pytest.raises(ChatError):
        chat.add_tag("  ")


def test_set_meta_replaces_and_ignores_tags():
    chat = new_chat()
    chat.add_tag("t")
    chat.set_meta({"internal": True, "tags": ["ignored"]})
    chat.set_meta({"internal": True})
    assert chat.meta == {"internal": True} and chat.tags == ["t"]
    assert event_names(chat) == ["TagAdded", "MetaChanged"]


def test_deleted_chat_refuses_commands():
    chat = new_chat()
    chat.delete()
    chat.delete()
    assert chat.deleted and event_names(chat) == ["Deleted"]
    for command in (
        lambda: chat.apply_update({"title": "x"}),
        lambda: chat.rename("x"),
        lambda: chat.upsert_message("m", {}),
        lambda: chat.record_message_event("a1", "status", {}),
        chat.toggle_pinned,
        chat.toggle_archived,
        lambda: chat.share("s"),
        lambda: chat.move_to_folder("f"),
        lambda: chat.add_tag("t"),
        lambda: chat.set_meta({}),
        lambda: Chat.clone(chat, USER),
    ):
        with pytest.raises(ChatDeletedError):
            command()


# ---- trash: restore and purge ---------------------------------------------------------


def test_delete_keeps_its_time_and_restore_brings_everything_back():
    chat = new_chat(folder_id="f1", meta={"tags": ["t"]}, pinned=True)
    before = chat.to_chat_json()
    chat.delete()
    deleted = chat.collect_events()[0]
    assert chat.deleted_at == int(deleted.timestamp.timestamp())
    assert chat.purge_at(3600) == chat.deleted_at + 3600
    chat.restore()
    assert not chat.deleted and chat.deleted_at is None and chat.purge_at(3600) is None
    assert (chat.to_chat_json(), chat.folder_id, chat.tags, chat.pinned) == (
        before, "f1", ["t"], True)
    assert event_names(chat) == ["Restored"]
    chat.rename("usable again")


def test_restore_and_purge_need_a_chat_in_the_trash():
    chat = new_chat()
    for command in (chat.restore, chat.purge):
        with pytest.raises(ChatNotDeletedError):
            command()
    assert event_names(chat) == []


def test_a_purged_chat_is_gone_for_good():
    chat = new_chat()
    chat.delete()
    chat.purge()
    chat.purge()  # idempotent: the retention policy may run twice
    assert chat.purged and chat.purge_at(3600) is None
    assert event_names(chat) == ["Deleted", "Purged"]
    with pytest.raises(ChatDeletedError):
        chat.restore()
    with pytest.raises(ChatDeletedError):
        chat.rename("x")


@pytest.mark.parametrize("snapshot", [False, True])
def test_trash_state_replays(snapshot):
    trashed, purged = (Chat.create(USER, client_chat(two_turns())) for _ in range(2))
    for chat in (trashed, purged):
        chat.delete()
        chat.restore()
        chat.delete()
    purged.purge()
    loaded = replayed(trashed, snapshot=snapshot)
    assert loaded == trashed and loaded.deleted_at == trashed.deleted_at is not None
    assert replayed(purged, snapshot=snapshot).purged


def test_snapshots_from_before_the_trash_still_load():
    chat = new_chat()
    del chat.__dict__["deleted_at"], chat.__dict__["purged"]  # as an old snapshot has it
    assert chat.deleted_at is None and not chat.purged
    chat.delete()
    assert chat.purge_at(0) == chat.deleted_at


# ---- clone ----------------------------------------------------------------------------


def test_clone_records_origin_like_open_webui():
    source = new_chat(folder_id="f1", meta={"tags": ["t"]}, pinned=True)
    clone = Chat.clone(source, USER)
    doc = clone.to_chat_json()
    assert clone.id != source.id
    assert clone.title == "Clone of New Chat"
    assert clone.origin == {"originalChatId": str(source.id), "branchPointMessageId": "a1"}
    assert doc["originalChatId"] == str(source.id) and doc["branchPointMessageId"] == "a1"
    assert clone.messages == source.messages and clone.current_id == "a1"
    assert (clone.folder_id, clone.tags, clone.pinned) == ("f1", ["t"], True)
    assert Chat.clone(source, USER, title="Mine").title == "Mine"


def test_clone_for_another_user_keeps_nothing_personal():
    source = new_chat(folder_id="f1", meta={"tags": ["t"], "x": 1}, pinned=True)
    clone = Chat.clone(source, "user-2")
    assert clone.owner_id == "user-2"
    assert (clone.folder_id, clone.tags, clone.pinned, clone.meta) == (None, [], False, {})


# ---- replay and snapshots -------------------------------------------------------------


def busy_chat():
    chat = Chat.create(USER, client_chat(two_turns(), tags=["a"]), folder_id="f0")
    chat.apply_update(client_chat([*two_turns(), message("u2", "a1", content="q")], title="T"))
    chat.upsert_message("a2", {"parentId": "u2", "role": "assistant", "content": "part"})
    chat.record_message_event("a2", "message", {"content": "ial"})
    chat.record_message_event("a2", "status", {"description": "done", "done": True})
    chat.apply_update({"params": {"seed": 1}, "files": [{"id": "file-1"}]})
    chat.toggle_pinned()
    chat.share("share-1")
    chat.add_tag("b")
    chat.remove_tag("a")
    chat.set_meta({"k": [1, 2]})
    chat.move_to_folder("f1")
    chat.toggle_archived()
    chat.delete()
    return chat


@pytest.mark.parametrize("snapshot", [False, True])
def test_replay_reproduces_state(snapshot):
    chat = busy_chat()
    expected = chat.to_chat_json()
    loaded = replayed(chat, snapshot=snapshot)
    assert loaded.to_chat_json() == expected
    assert loaded == chat
    assert loaded.messages["a2"]["content"] == "partial"


def test_all_attributes_are_plain_json():
    chat = busy_chat()
    state = {k: v for k, v in vars(chat).items() if not k.startswith("_")}
    assert json.loads(json.dumps(state)) == state


# ---- properties -------------------------------------------------------------------------

mids = st.sampled_from([f"m{i}" for i in range(12)])
texts = st.text(alphabet="ab\x00 ", max_size=4)
commands = st.one_of(
    st.tuples(st.just("upsert"), mids, mids | st.none(), texts),
    st.tuples(st.just("event"), mids, st.sampled_from(["status", "message", "x"]), texts),
    st.tuples(st.just("title"), texts),
    st.tuples(st.just("tag"), texts),
    st.tuples(st.just("field"), st.sampled_from(["models", "params", "files"]), texts),
    st.tuples(st.just("pin")),
    st.tuples(st.just("archive")),
    st.tuples(st.just("folder"), st.none() | st.sampled_from(["f1", "f2"])),
    st.tuples(st.just("share"), st.sampled_from(["s1", "s2"])),
)


def run(chat, command):
    kind, *args = command
    if kind == "upsert":
        mid, parent, text = args
        chat.upsert_message(mid, {"parentId": parent, "role": "user", "content": text})
    elif kind == "event":
        mid, event_type, text = args
        chat.record_message_event(mid, event_type, {"content": text, "description": text})
    elif kind == "title":
        chat.rename(args[0])
    elif kind == "tag":
        if normalize_tag(args[0]) not in ("", "none"):
            chat.add_tag(args[0])
    elif kind == "field":
        chat.apply_update({args[0]: [args[1]]})
    elif kind == "pin":
        chat.toggle_pinned()
    elif kind == "archive":
        chat.toggle_archived()
    elif kind == "folder":
        chat.move_to_folder(args[0])
    elif kind == "share":
        chat.share(args[0])


@PROPERTY
@given(st.lists(commands, max_size=25), st.booleans())
def test_replaying_recorded_events_reproduces_the_chat(sequence, snapshot):
    chat = Chat.create(USER, client_chat(two_turns()))
    for command in sequence:
        run(chat, command)
    loaded = replayed(chat, snapshot=snapshot)
    assert loaded.to_chat_json() == chat.to_chat_json()
    assert loaded == chat


@PROPERTY
@given(st.data())
def test_stale_full_updates_keep_the_union_of_messages(data):
    chat = Chat.create(USER, client_chat(two_turns()))
    seen = [chat.to_chat_json()]
    written = set(chat.messages)
    for step in range(data.draw(st.integers(1, 8), label="steps")):
        doc = copy.deepcopy(seen[data.draw(st.integers(0, len(seen) - 1), label="snapshot")])
        tree = doc["history"]["messages"]
        existing = sorted(tree)
        for n in range(data.draw(st.integers(0, 3), label="new")):
            parent = data.draw(st.sampled_from(existing), label="parent")
            mid = f"s{step}n{n}"
            tree[mid] = message(mid, parent, content=data.draw(texts, label="text"))
            existing.append(mid)
            written.add(mid)
        if data.draw(st.booleans(), label="edit"):
            edited = data.draw(st.sampled_from(existing), label="edited")
            tree[edited] = {**tree[edited], "content": "edited"}
        doc["history"]["currentId"] = data.draw(st.sampled_from([*existing, "ghost"]))
        chat.apply_update(doc)
        seen.append(chat.to_chat_json())
        assert written <= set(chat.messages)
        assert chat.current_id in chat.messages
    assert replayed(chat).to_chat_json() == chat.to_chat_json()
