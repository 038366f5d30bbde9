"""The audit diff is a valid RFC 6902 patch: applying it (with the jsonpatch library) gives the
target document, for any pair of JSON documents."""

from __future__ import annotations

import json

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from application.json_diff import json_patch

keys = st.sampled_from(["a", "b", "c/d", "~e", "", "0", "messages"])
scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3)
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(before=documents, after=documents)
def test_applying_the_patch_gives_the_target(before, after):
    patch = json_patch(before, after)
    assert jsonpatch.apply_patch(before, patch) == after
    if json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True):
        assert patch == []  # equal as JSON: False == 0 in Python, not in JSON (a replace)


def test_only_what_changed():
    big = {"messages": {f"m{i}": {"content": f"text {i}"} for i in range(2000)}, "title": "x"}
    changed = {**big, "messages": {**big["messages"], "m7": {"content": "edited"}}}
    assert json_patch(big, changed) == [
        {"op": "replace", "path": "/messages/m7/content", "value": "edited"}]


def test_a_changed_type_is_a_replace():
    assert json_patch(1, True) == [{"op": "replace", "path": "", "value": True}]
    assert json_patch({"a": [1]}, {"a": {"0": 1}}) == [
        {"op": "replace", "path": "/a", "value": {"0": 1}}]
