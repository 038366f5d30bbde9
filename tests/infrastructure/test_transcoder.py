"""The orjson decoder reads every state the library's JSON transcoder writes, value for value."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.transcoder import FastJSONTranscoder


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY, FAST = _registered(JSONTranscoder()), _registered(FastJSONTranscoder())

typed = st.one_of(
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False, allow_infinity=False),
)
plain = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                  st.floats(allow_nan=False, allow_infinity=False), st.text())
# Keys users may write, the wrapper's own names among them.
keys = st.one_of(st.text(max_size=8), st.sampled_from(["_type_", "_data_", "timestamp"]))
values = st.recursive(st.one_of(plain, typed),
                      lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@given(st.dictionaries(keys, values, max_size=6))
def test_decodes_what_the_library_encodes_as_the_library_does(state: dict[str, Any]) -> None:
    data = LIBRARY.encode(state)
    try:
        expected = LIBRARY.decode(data)
    except (TranscodingNotRegisteredError, TypeError):
        # a user dict shaped like a wrapper with an unknown name: unreadable either way
        with pytest.raises((TranscodingNotRegisteredError, TypeError)):
            FAST.decode(data)
        return
    assert FAST.decode(data) == expected


def test_event_state_round_trip_keeps_types() -> None:
    state = {"timestamp": datetime(2026, 11, 24, 3, 0, tzinfo=UTC), "owner": uuid.uuid4(),
             "message": {"id": "m1", "at": datetime(2026, 1, 1, tzinfo=UTC),
                         "tags": [uuid.uuid4(), {"price": Decimal("1.50")}]}}
    decoded = FAST.decode(LIBRARY.encode(state))
    assert decoded == state
    assert isinstance(decoded["message"]["tags"][0], uuid.UUID)


def test_values_orjson_refuses_fall_back_to_the_library() -> None:
    state = {"score": math.inf, "big": 2**70, "nested": {"when": datetime(2026, 1, 1, tzinfo=UTC)}}
    assert FAST.decode(LIBRARY.encode(state)) == state


def test_a_user_key_named_like_the_wrapper_is_left_alone() -> None:
    state = {"content": {"_type_": "note", "body": "x"}, "text": 'a "_type_": b'}
    assert FAST.decode(LIBRARY.encode(state)) == state
