"""Time travel: the state at any version equals replaying exactly that prefix of the log.

Loading at a version goes through snapshots (every 100 chat events) and the aggregate cache;
replaying the prefix from nothing goes through neither, so the two agree only if both are right.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.context import Actor, acting_as
from domain.chat import Chat
from infrastructure.event_store import chained_projection
from interfaces.schemas.chats import chat_response

text = st.text(alphabet="abcdefgh xyz", min_size=1, max_size=12)
op = st.one_of(
    st.tuples(st.just("message"), text),
    st.tuples(st.just("edit"), text),
    st.tuples(st.just("title"), text),
    st.tuples(st.just("tag"), st.sampled_from(["red", "green", "blue"])),
    st.tuples(st.just("untag"), st.sampled_from(["red", "green", "blue"])),
    st.tuples(st.just("pin"), st.none()),
    st.tuples(st.just("archive"), st.none()),
)


def _apply(chat: Chat, kind: str, arg: str | None, step: int) -> None:
    if kind == "message":
        parent = chat.current_id
        chat.upsert_message(f"m{step}", {"id": f"m{step}", "parentId": parent, "childrenIds": [],
                                          "role": "user", "content": arg, "timestamp": step})
    elif kind == "edit" and chat.messages:
        mid = sorted(chat.messages)[step % len(chat.messages)]
        chat.upsert_message(mid, {**chat.messages[mid], "content": arg})
    elif kind == "title":
        chat.rename(arg)
    elif kind == "tag":
        chat.add_tag(str(arg))
    elif kind == "untag":
        chat.remove_tag(str(arg))
    elif kind == "pin":
        chat.toggle_pinned()
    elif kind == "archive":
        chat.toggle_archived()


def _replay(store, chat_id, version):
    return chained_projection(None, store.history(chat_id, upto=version))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=130, max_size=160), probes=st.lists(st.integers(1, 10_000),
                                                                      min_size=5, max_size=12))
def test_state_at_any_version_equals_replaying_that_prefix(container, ops, probes):
    store = container.store
    with acting_as(Actor("auditor-test", "time-travel")):
        chat = Chat.create("owner-1", {"title": "start", "history": {"messages": {}}})
        store.save(chat)
        for step, (kind, arg) in enumerate(ops):
            chat = store.get(chat.id)
            _apply(chat, kind, arg, step)
            store.save(chat)
    last = store.last_version(chat.id)
    assert last >= 100 and list(store.app.snapshots.get(chat.id))  # a snapshot is involved
    for version in {1, 100, 101, last, *(p % last + 1 for p in probes)}:
        loaded = store.get(chat.id, version=version)
        replayed = _replay(store, chat.id, version)
        assert loaded.version == replayed.version == version
        assert chat_response(loaded) == chat_response(replayed)
