"""Stored-event format: plain metadata header, then the event state encrypted with its owner's key.

    0x01 | u16 header length | header JSON | nonce (12) | AES-GCM(state JSON)

    header: {"o": owner, "a": acting user, "c": correlation id, "t": epoch seconds,
             "h": chain hash}

The header stays readable so auditors can filter by actor and time without keys; everything a user
wrote is in the encrypted part, so destroying the owner's key erases it from every replay (such
events decode as `Erased` tombstones). `h` chains each event of an aggregate to the previous one:
HMAC(chain key, previous h | id | version | topic | ciphertext), so an event altered or removed in
the database breaks the chain that `verify` recomputes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import os
import struct
from collections import deque
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

from application.context import current_actor
from infrastructure.keys import SYSTEM_OWNER, KeyErased, KeyStore

FORMAT = 2  # 1: the chain hash covered the body only
_COVERED = ("o", "a", "c", "t")
_HEADER = struct.Struct(">BH")
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # what json.dumps(..., separators) writes


@dataclass(frozen=True)
class Erased:
    """What an event of an erased owner decodes to: when and by whom, nothing of what."""

    originator_id: UUID
    originator_version: int
    topic: str
    timestamp: float | None
    _meta: dict[str, Any]

    def mutate(self, aggregate: Any) -> None:
        return None  # an aggregate with erased history no longer exists


def json_scalar(value: Any) -> str:
    """`value` as `_COMPACT` writes it. The header and the chain's covered list are spelled out
    from these instead of encoding a dict and a list per event; the bytes are the same
    (tests/infrastructure/test_mapper_header.py)."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _COMPACT.encode(value)


def chain_hash(key: bytes, previous: str, originator_id: Any, version: int, topic: str,
               body: bytes, header: dict[str, Any] | None = None) -> str:
    """The event's link in its aggregate's chain. From format 2 on it also covers the readable
    header (owner, actor, correlation id, time), which auditors trust as much as the body."""
    covered = b"" if header is None else _COMPACT.encode(
        [header.get(k) for k in _COVERED]).encode() + b"|"
    message = f"{previous}|{originator_id}|{version}|{topic}|".encode() + covered + body
    return _keyed(key).hash(message)


class _ChainKey:
    """HMAC-SHA256 under one key, its key schedule computed once. Messages under 2 KiB are
    hashed without releasing the GIL: `hmac.digest` always releases it, and under many
    command threads each release costs a wait to take it back."""

    def __init__(self, key: bytes):
        self._base = hmac.new(key, digestmod=hashlib.sha256)

    def hash(self, message: bytes) -> str:
        mac = self._base.copy()
        mac.update(message)
        return mac.hexdigest()[:32]


@functools.lru_cache(maxsize=8)
def _keyed(key: bytes) -> _ChainKey:
    return _ChainKey(key)


class _Nonces:
    """96-bit AES-GCM nonces cut from one read of the OS's CSPRNG per 4 KiB (a read per event
    was a system call and a GIL release on every write). No lock: `deque.popleft` is atomic,
    and a thread preempted while holding a lock here stalled every other writer. A forked
    child starts empty: sharing the parent's nonces would reuse them under the same keys."""

    SIZE = 12

    def __init__(self, chunk: int = 4096):
        self._chunk = chunk - chunk % self.SIZE
        self._ready: deque[bytes] = deque()
        os.register_at_fork(after_in_child=self._ready.clear)

    def take(self) -> bytes:
        while True:
            try:
                return self._ready.popleft()
            except IndexError:
                block = os.urandom(self._chunk)
                self._ready.extend(block[i : i + self.SIZE]
                                   for i in range(0, self._chunk, self.SIZE))


NONCES = _Nonces()


def stored_chain_hash(key: bytes, previous: str, originator_id: Any, version: int, topic: str,
                      state: bytes) -> tuple[str, str]:
    """(the `h` a stored event claims, the `h` its bytes give): they differ if it was altered."""
    fmt, header, nonce, body = split_stored(state)
    expected = chain_hash(key, previous, originator_id, version, topic, nonce + body,
                          header if fmt >= 2 else None)
    return str(header.get("h", "")), expected


class ChronicleMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, keys: KeyStore, chain_key: bytes):
        super().__init__(transcoder=transcoder)
        self.keys = keys
        self.chain_key = chain_key
        self._chain = _keyed(chain_key)

    def encode(self, domain_event: DomainEventProtocol[UUID], owner: str | None,
               previous: str = "") -> StoredEvent:
        return self.encode_chained(domain_event, owner, previous)[0]

    def encode_chained(self, domain_event: DomainEventProtocol[UUID], owner: str | None,
                       previous: str = "") -> tuple[StoredEvent, str]:
        """The stored event and its chain hash `h` (the next event's `previous`)."""
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        meta = state.pop("_meta", None)
        if owner is None:
            owner = _snapshot_owner(state)
        owner = owner or SYSTEM_OWNER
        if meta is None:
            actor = current_actor()
            meta = {"a": actor.user_id, "c": actor.correlation_id}
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        topic = get_topic(type(domain_event))
        nonce = NONCES.take()
        body = nonce + self.keys.cipher(owner).encrypt(nonce, self.transcoder.encode(state), None)
        timestamp = state.get("timestamp")
        o, a, c = json_scalar(owner), json_scalar(meta.get("a")), json_scalar(meta.get("c"))
        t = json_scalar(round(timestamp.timestamp(), 6)) if timestamp is not None else "null"
        h = self._chain.hash(f"{previous}|{originator_id}|{originator_version}|{topic}|"
                             f"[{o},{a},{c},{t}]|".encode() + body)
        header = f'{{"o":{o},"a":{a},"c":{c},"t":{t},"h":"{h}"}}'.encode()
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=_HEADER.pack(FORMAT, len(header)) + header + body,
        ), h

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        return self.encode(domain_event, None)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        header, nonce, body = split_state(stored_event.state)
        try:
            cipher = self.keys.cipher_for_read(header["o"])
        except KeyErased:
            return self._tombstone(stored_event, header)  # type: ignore[return-value]
        try:
            plain = cipher.decrypt(nonce, body, None)
            state: dict[str, Any] = self.transcoder.decode(plain)
        except Exception as e:
            raise MapperDeserialisationError(
                f"cannot decode {stored_event.topic} {stored_event.originator_id}"
                f"@{stored_event.originator_version}: {e!r}"
            ) from e
        cls = resolve_topic(stored_event.topic)
        originator_id = stored_event.originator_id
        state["originator_id"] = originator_id if isinstance(originator_id, UUID) else UUID(
            str(originator_id))
        state["originator_version"] = stored_event.originator_version
        from_version = state.pop("class_version", 1)
        while from_version < getattr(cls, "class_version", 1):
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        state["_meta"] = header
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    @staticmethod
    def _tombstone(stored_event: StoredEvent, header: dict[str, Any]) -> Erased:
        originator_id = stored_event.originator_id
        return Erased(originator_id if isinstance(originator_id, UUID) else
                      UUID(str(originator_id)), stored_event.originator_version,
                      stored_event.topic, header.get("t"), header)


def split_stored(state: bytes) -> tuple[int, dict[str, Any], bytes, bytes]:
    """(format, header, nonce, ciphertext) of a stored event's state."""
    fmt, length = _HEADER.unpack_from(state)
    if fmt not in (1, FORMAT):
        raise MapperDeserialisationError(f"unknown stored-event format {fmt}")
    start = _HEADER.size
    header = orjson.loads(state[start : start + length])
    rest = state[start + length :]
    return fmt, header, rest[:12], rest[12:]


def split_state(state: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    _, header, nonce, body = split_stored(state)
    return header, nonce, body


def read_header(state: bytes) -> dict[str, Any]:
    """Metadata without decrypting: for audit queries by actor."""
    return split_state(state)[0]


def event_meta(event: object) -> dict[str, Any]:
    return dict(getattr(event, "__dict__", {}).get("_meta") or {})


def _snapshot_owner(state: dict[str, Any]) -> str | None:
    inner = state.get("state")
    if isinstance(inner, dict):
        owner = inner.get("owner_id")
        return str(owner) if owner else None
    return None
