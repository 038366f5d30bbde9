"""The write model: one eventsourcing Application for every aggregate, saving through group commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

from anyio import to_thread
from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    LRUCache,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate, CanInitAggregate, CanSnapshotAggregate, Snapshot
from eventsourcing.persistence import IntegrityError, Notification, Recording, StoredEvent

from application.commands import (
    WouldBlock,
    blocking_allowed,
    forbid_blocking,
    optimistic_reads,
)
from application.errors import ConcurrencyConflict, Unavailable
from domain.chat import Chat
from domain.note import Note
from infrastructure.availability import is_database_away, needs_database
from infrastructure.command_cache import CommandCache
from infrastructure.group_commit import GroupCommitter
from infrastructure.keys import SYSTEM_OWNER, KeyStore
from infrastructure.mapper import ChronicleMapper, Erased, read_header
from infrastructure.transcoder import FastJSONTranscoder

log = logging.getLogger("chronicle.store")
APP_NAME = "chronicle"
CHAIN_ATTR = "_chain_head"  # kept on aggregates (and so in their snapshots)


def store_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """Translate DATABASE_URL into the eventsourcing library's settings."""
    env = {"AGGREGATE_CACHE_MAXSIZE": "2000", "IS_SNAPSHOTTING_ENABLED": "y"}
    if database_url.startswith(("postgres://", "postgresql://")):
        url = urlparse(database_url)
        env.update({
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "infrastructure.pg_recorder:ArrayInsertRecorder",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": "3",
            "POSTGRES_MAX_OVERFLOW": "6",
            "POSTGRES_CONNECT_TIMEOUT": "3",
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        })
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        env.update({
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(data_dir / "events.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "30",
        })
    return env


class ChronicleStore(Application[UUID]):
    name = APP_NAME
    # Long chats load from a snapshot plus at most 99 events (see scripts/bench/bench_chat_load.py).
    snapshotting_intervals = {Chat: 100, Note: 50}  # a note's saves each hold its content

    def __init__(self, env: dict[str, str], keys: KeyStore, chain_key: bytes,
                 on_commit: Callable[[int], None] | None = None,
                 on_batch: Callable[[int, int, float], None] | None = None,
                 max_batch_events: int = 1000):
        self._keys = keys
        self._chain_key = chain_key
        super().__init__(env=env)
        self.committer = GroupCommitter(self.recorder, max_events=max_batch_events,
                                        on_commit=on_commit, on_batch=on_batch)

    @property
    def keys(self) -> KeyStore:
        return self._keys

    def construct_mapper(self) -> ChronicleMapper:  # type: ignore[override]
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return ChronicleMapper(transcoder, self._keys, self._chain_key)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, for the library's own callers (the application commits)."""
        if not all(hasattr(obj, "collect_events") for obj in objs if obj is not None):
            return super().save(*objs, **kwargs)
        events, stored, ids = self._commit([obj for obj in objs if obj is not None])
        return [
            Recording(d, Notification(id=n, originator_id=s.originator_id,
                                      originator_version=s.originator_version,
                                      topic=s.topic, state=s.state))
            for d, s, n in zip(events, stored, ids, strict=True)
        ]

    def commit(self, *aggregates: Any) -> int:
        """Record the aggregates' pending events; the log position of the last one (0: none).

        The library's save less what a command does not use: its two runtime Protocol checks
        per object (tens of microseconds each on Python 3.11) and a Recording per event."""
        ids = self._commit([a for a in aggregates if a is not None])[2]
        return max(ids) if ids else 0

    async def commit_async(self, *aggregates: Any) -> int:
        """`commit` awaited on an event loop: encoding runs on the loop (it may raise
        `WouldBlock` for a key not yet loaded, before anything is written), the write on the
        committer's thread; a snapshot, a write of its own, on a worker thread."""
        batch = _Batch(self, [a for a in aggregates if a is not None])
        ids = await self.committer.commit_async(batch.stored)
        # Written: a WouldBlock from here on would run the command a second time.
        batch.committed()
        if batch.snapshot_due():
            try:
                await to_thread.run_sync(blocking_allowed, self._snapshot, batch)
            except WouldBlock as e:
                raise RuntimeError("a snapshot was refused I/O after its commit") from e
        return max(ids) if ids else 0

    def _commit(self, aggregates: Sequence[Any]) -> tuple[list[Any], list[StoredEvent],
                                                          list[int]]:
        batch = _Batch(self, aggregates)
        ids = self.committer.commit(batch.stored)
        batch.committed()
        if batch.snapshot_due():
            self._snapshot(batch)
        return batch.events, batch.stored, ids

    def _snapshot(self, batch: _Batch) -> None:
        """The library's snapshot rule, over one commit's events. The commit has landed: a
        snapshot lost with the database is skipped (the next load replays a few more events)
        rather than answered as a failure the client would retry, applying the command twice."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events.extend(batch.events)
        processing.aggregates.update(batch.by_id)
        try:
            self._take_snapshots(processing)
        except Exception as error:
            if not is_database_away(error):
                raise
            log.warning("snapshot skipped: the database is away", extra={"error": str(error)})

    def close(self) -> None:
        self.committer.close()
        super().close()


class _Batch:
    """One commit's aggregates, their pending events and those events encoded and chained."""

    def __init__(self, store: ChronicleStore, aggregates: Sequence[Any]):
        self.store = store
        self.by_id = {aggregate.id: aggregate for aggregate in aggregates}
        self.events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        mapper: ChronicleMapper = store.mapper  # type: ignore[assignment]
        self.heads = {agg_id: getattr(agg, CHAIN_ATTR, "") for agg_id, agg in self.by_id.items()}
        self.stored: list[StoredEvent] = []
        for event in self.events:
            agg_id = event.originator_id
            item, self.heads[agg_id] = mapper.encode_chained(
                event, _owner_of(self.by_id.get(agg_id)), self.heads.get(agg_id, ""))
            self.stored.append(item)

    def committed(self) -> None:
        """Only once the write is durable do the aggregates move their chain heads on."""
        for agg_id, aggregate in self.by_id.items():
            setattr(aggregate, CHAIN_ATTR, self.heads[agg_id])

    def snapshot_due(self) -> bool:
        """Whether the library's rule (an event at a multiple of its type's interval) will take
        a snapshot: most commits take none, and a loop command then skips the hand-off of
        `_take_snapshots` to a thread."""
        intervals = self.store.snapshotting_intervals or {}
        for event in self.events:
            interval = intervals.get(type(self.by_id[event.originator_id]))
            if interval and event.originator_version % interval == 0:
                return True
        return False


def chained_projection(aggregate: Any, events: Any) -> Any:
    """Fold events like the library does, remembering the last chain hash for the next save.

    An erased event (a tombstone) ends the aggregate: what others recorded on it afterwards has
    nothing to apply to, unless a snapshot taken before the erasure restarts it. A snapshot is
    not in the chain: its state carries the head, its own header hash is not the head."""
    head = None
    for event in events:
        aggregate = fold(aggregate, event)
        if not isinstance(event, CanSnapshotAggregate):
            head = event.__dict__.get("_meta", {}).get("h", head)
    if aggregate is not None and head is not None:
        setattr(aggregate, CHAIN_ATTR, head)
    return aggregate


_STARTS = (CanInitAggregate, CanSnapshotAggregate, Erased)


def fold(aggregate: Any, event: Any) -> Any:
    """One step of a replay: after a tombstone the aggregate stays gone until it restarts."""
    if aggregate is None and not isinstance(event, _STARTS):
        return None
    return event.mutate(aggregate)


def _owner_of(aggregate: Any) -> str | None:
    owner = getattr(aggregate, "owner_id", None)
    return str(owner) if owner else None


@dataclass
class StreamInfo:
    kind: str  # the aggregate's class name, e.g. "Chat"
    last_owner: str
    born_owner: str  # owner of its last creation (Created, or Recreated on a deleted id)


_BIRTHS = (".Created", ".Recreated")


def _class_of(topic: str) -> str:
    """`domain.chat:Chat.Created` → `Chat`."""
    return topic.rpartition(":")[2].split(".")[0]


class EventStore:
    """The application layer's port onto the write model (see application.ports.EventStorePort)."""

    def __init__(self, app: ChronicleStore):
        self.app = app
        self.command_cache = CommandCache()

    @needs_database
    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        self.app.keys.refresh()  # a key erased elsewhere empties the caches below first
        if version is None and optimistic_reads():
            cached = self.command_cache.get(aggregate_id)
            if cached is not None:
                return cached
        forbid_blocking()
        try:
            return self.app.repository.get(aggregate_id, version=version,
                                           projector_func=chained_projection)
        except AggregateNotFoundError:
            return None

    @needs_database
    def exists(self, aggregate_id: UUID) -> bool:
        forbid_blocking()
        return aggregate_id in self.app.repository

    def save(self, *aggregates: Aggregate) -> int:
        with self._saving(aggregates):
            position = self.app.commit(*aggregates)
        self.command_cache.put(aggregates)
        return position

    async def save_async(self, *aggregates: Aggregate) -> int:
        with self._saving(aggregates):
            position = await self.app.commit_async(*aggregates)
        self.command_cache.put(aggregates)
        return position

    @contextmanager
    def _saving(self, aggregates: Sequence[Aggregate]) -> Iterator[None]:
        """A failed save leaves no cached copy that may be stale; a lost race is a conflict."""
        try:
            yield
        except (IntegrityError, ConcurrencyConflict) as e:
            self.command_cache.evict(aggregates)
            raise ConcurrencyConflict(str(e), tuple(a.id for a in aggregates)) from e
        except WouldBlock:  # nothing written; a thread takes the command over
            raise
        except Exception as e:  # the write may have landed all the same
            self.command_cache.evict(aggregates)
            if is_database_away(e) and not isinstance(e, Unavailable):
                raise Unavailable(Unavailable.OUTCOME_UNKNOWN) from e
            raise
        except BaseException:  # cancelled too
            self.command_cache.evict(aggregates)
            raise

    @needs_database
    def head(self) -> int:
        forbid_blocking()
        return self.app.recorder.max_notification_id() or 0

    # -- erasure (application/erasure.py) ---------------------------------------------------
    def streams_of(self, owner: str, progress: Callable[[int, int], None] | None = None,
                   page: int = 5000) -> dict[UUID, StreamInfo]:
        """Every aggregate with an event `owner`'s key encrypts, found from the plain headers
        (nothing is decrypted): its class and the owner of its latest event."""
        found: dict[UUID, StreamInfo] = {}
        position, head = 0, self.head()
        while batch := self.select(position, page):
            for n in batch:
                event_owner = read_header(n.state)["o"]
                agg_id = n.originator_id if isinstance(n.originator_id, UUID) else \
                    UUID(str(n.originator_id))
                info = found.get(agg_id)
                if info is not None:
                    info.last_owner = event_owner
                    if n.topic.endswith(_BIRTHS):
                        info.born_owner = event_owner
                elif event_owner == owner:
                    born = event_owner if n.topic.endswith(_BIRTHS) else ""
                    found[agg_id] = StreamInfo(_class_of(n.topic), event_owner, born)
            position = batch[-1].id
            if progress:
                progress(position, max(head, position))
        return found

    def snapshot(self, aggregate_id: UUID) -> None:
        """Snapshot the aggregate as it is now, under its current owner's key, so that it
        still loads once the key of an earlier owner is destroyed (see chained_projection)."""
        aggregate = self.app.repository.get(aggregate_id, projector_func=chained_projection)
        mapper: ChronicleMapper = self.app.mapper  # type: ignore[assignment]
        snapshot = Snapshot.take(aggregate)
        stored = mapper.encode(snapshot, _owner_of(aggregate) or SYSTEM_OWNER)
        assert self.app.snapshots is not None  # IS_SNAPSHOTTING_ENABLED (store_env)
        self.app.snapshots.recorder.insert_events([stored])

    def forget_cached(self) -> None:
        """Drop every decoded aggregate this process holds (after a key was destroyed)."""
        repository = self.app.repository
        if isinstance(repository.cache, LRUCache):
            repository.cache = LRUCache(maxsize=repository.cache.maxsize)
        self.command_cache.clear()

    @needs_database
    def history(self, aggregate_id: UUID, after: int = 0, upto: int | None = None,
                limit: int | None = None) -> list[Any]:
        """An aggregate's events (decoded; tombstones for an erased owner) in version order."""
        stored = self.app.recorder.select_events(aggregate_id, gt=after or None, lte=upto,
                                                 limit=limit)
        return [self.app.mapper.to_domain_event(s) for s in stored]

    @needs_database
    def last_version(self, aggregate_id: UUID) -> int:
        stored = self.app.recorder.select_events(aggregate_id, desc=True, limit=1)
        return stored[0].originator_version if stored else 0

    @needs_database
    def select(self, after: int, limit: int) -> Sequence[Notification]:
        return self.app.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False)

    def decode(self, notification: Notification) -> Any:
        return self.app.mapper.to_domain_event(notification)

    def close(self) -> None:
        self.app.close()
