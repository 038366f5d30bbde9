"""The stored header is spelled out by hand; it must be byte for byte what the JSON encoder that
verification uses would write, or every chain would break."""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import DatetimeAsISO, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.keys import KeyStore
from infrastructure.mapper import (
    _COMPACT,
    ChronicleMapper,
    json_scalar,
    read_header,
    stored_chain_hash,
)
from infrastructure.sql import SqliteDatabase
from infrastructure.transcoder import FastJSONTranscoder


def _mapper() -> ChronicleMapper:
    transcoder = FastJSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    keys = KeyStore(SqliteDatabase(Path(tempfile.mkdtemp()) / "keys.sqlite3"), "secret")
    return ChronicleMapper(transcoder, keys, b"chain-key")


MAPPER = _mapper()

texts = st.text() | st.just("system") | st.uuids().map(str)
scalars = st.none() | texts | st.floats(allow_nan=False, allow_infinity=False) | st.integers() \
    | st.booleans()


@given(st.lists(scalars, min_size=4, max_size=4))
def test_scalars_are_spelled_as_the_encoder_spells_them(values) -> None:
    spelled = ",".join(json_scalar(v) for v in values)
    assert f"[{spelled}]" == _COMPACT.encode(values)


@given(owner=texts.filter(bool), actor=st.none() | texts, correlation=st.none() | texts,
       when=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                         timezones=st.just(UTC)))
def test_an_encoded_event_verifies_and_its_header_reads_back(owner, actor, correlation,
                                                              when) -> None:
    mapper = MAPPER
    event = Aggregate.Event(originator_id=uuid.uuid4(), originator_version=1, timestamp=when)
    object.__setattr__(event, "_meta", {"a": actor, "c": correlation})
    stored, h = mapper.encode_chained(event, owner, "previous")
    header = read_header(stored.state)
    assert header == {"o": owner, "a": actor, "c": correlation,
                      "t": round(when.timestamp(), 6), "h": h}
    claimed, expected = stored_chain_hash(mapper.chain_key, "previous", stored.originator_id,
                                          stored.originator_version, stored.topic, stored.state)
    assert claimed == expected == h
