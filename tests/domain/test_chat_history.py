from hypothesis import given, settings
from hypothesis import strategies as st

from domain.chat_history import (
    apply_message_event,
    diff_messages,
    history_from_linear,
    linear_branch,
    merge_messages,
    strip_derived,
    with_children,
)

IDS = [f"m{i}" for i in range(8)]
ids = st.sampled_from(IDS)

message_bodies = st.fixed_dictionaries(
    {
        "parentId": st.none() | ids,
        "role": st.sampled_from(["user", "assistant"]),
        "content": st.text(max_size=4),
    },
    optional={
        "done": st.booleans(),
        "model": st.text(max_size=3),
        "childrenIds": st.lists(ids, max_size=3),
    },
)
trees = st.dictionaries(ids, message_bodies, max_size=6).map(
    lambda tree: {mid: {"id": mid, **body} for mid, body in tree.items()}
)

# Per-test settings: a loaded profile would change every other suite's defaults too.
PROPERTY = settings(max_examples=100, deadline=None)


def _apply_diff(stored, incoming):
    result = {mid: strip_derived(m) for mid, m in stored.items()}
    added, edited = diff_messages(stored, incoming)
    for message in added:
        result[message["id"]] = message
    for mid, changes in edited:
        result[mid] = {**result[mid], **changes}
    return result


@PROPERTY
@given(trees, trees)
def test_merge_never_loses_a_message(stored, incoming):
    assert set(merge_messages(stored, incoming)) == set(stored) | set(incoming)


@PROPERTY
@given(trees, trees)
def test_merge_is_idempotent(stored, incoming):
    once = merge_messages(stored, incoming)
    assert merge_messages(once, incoming) == once
    assert merge_messages(once, once) == once


@PROPERTY
@given(trees, trees)
def test_incoming_values_win_and_stored_keys_survive(stored, incoming):
    merged = merge_messages(stored, incoming)
    for mid, message in incoming.items():
        for key, value in strip_derived(message).items():
            assert merged[mid][key] == value
    for mid, message in stored.items():
        assert set(strip_derived(message)) <= set(merged[mid])


@PROPERTY
@given(trees, trees)
def test_diff_reproduces_merge(stored, incoming):
    assert _apply_diff(stored, incoming) == merge_messages(stored, incoming)


@PROPERTY
@given(trees)
def test_diff_against_itself_is_empty(tree):
    assert diff_messages(tree, tree) == ([], [])


@PROPERTY
@given(trees)
def test_children_are_rebuilt_from_parent_links(tree):
    stored = merge_messages({}, tree)
    linked = with_children(stored)
    for mid, message in linked.items():
        for child in message["childrenIds"]:
            assert linked[child]["parentId"] == mid
    for mid, message in stored.items():
        parent = message.get("parentId")
        if parent in stored and parent != mid:
            assert linked[parent]["childrenIds"].count(mid) == 1


def test_children_follow_insertion_order_not_client_claims():
    stored = {
        "a": {"id": "a", "parentId": None, "childrenIds": ["zzz"]},
        "c": {"id": "c", "parentId": "a"},
        "b": {"id": "b", "parentId": "a"},
    }
    assert with_children(stored)["a"]["childrenIds"] == ["c", "b"]


@PROPERTY
@given(trees, ids)
def test_linear_branch_walks_parent_chain(tree, current):
    branch = linear_branch(tree, current)
    if current in tree:
        assert branch[-1]["id"] == current
    else:
        assert branch == []
    for parent, child in zip(branch, branch[1:], strict=False):
        assert child["parentId"] == parent["id"]
    assert len({m["id"] for m in branch}) == len(branch)


def test_linear_branch_stops_on_cycles():
    tree = {"a": {"id": "a", "parentId": "b"}, "b": {"id": "b", "parentId": "a"}}
    assert [m["id"] for m in linear_branch(tree, "a")] == ["b", "a"]


def test_history_from_linear_fills_ids_and_parents():
    tree, current = history_from_linear(
        [{"id": "x", "role": "user"}, {"role": "assistant", "childrenIds": ["q"]}]
    )
    assert current == "legacy-1"
    assert tree == {
        "x": {"id": "x", "role": "user", "parentId": None},
        "legacy-1": {"id": "legacy-1", "role": "assistant", "parentId": "x"},
    }


def test_message_events_persist_like_open_webui():
    message = {"id": "m", "content": "Hel"}
    assert apply_message_event(message, "message", {"content": "lo"})["content"] == "Hello"
    assert apply_message_event(message, "replace", {"content": "X"})["content"] == "X"
    status = apply_message_event(message, "status", {"description": "searching"})
    assert status["statusHistory"] == [{"description": "searching"}]
    assert apply_message_event(message, "chat:message:error", {"error": {"content": "boom"}})[
        "error"
    ] == {"content": "boom"}
    assert apply_message_event(message, "source", {"url": "u"})["sources"] == [{"url": "u"}]
    assert apply_message_event(message, "typing", {}) is None
    assert apply_message_event(message, "message", {"content": ""}) is None
    assert message == {"id": "m", "content": "Hel"}
