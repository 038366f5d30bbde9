"""Erasing a user (GDPR): afterwards no store and no replay of the log reveals their data.

The log is append-only, so erasure is by key: every event a user owns is encrypted with their data
key, and destroying the key turns that history into tombstones (infrastructure.mapper.Erased).
Before that, everything the user owns is deleted through the ordinary commands, so that each read
model, the vector index, knowledge bases of other users and file storage react as they do to any
deletion; then a system-owned `UserErased` event records the erasure (it stays readable), the key
is destroyed, and what is derived outside the log is purged: caches of decoded state, session
state, file blobs and embeddings only this user's files used, collaborative documents, and the
free pages and WAL of the databases (docs/erasure.md).

Erasing an erased user again repeats the purge: an erasure interrupted after its key was destroyed
(or whose projections were still catching up) is finished that way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from application.auth import Principal
from application.commands import CommandRunner
from application.errors import ApplicationError, BadRequest, Forbidden, NotFound
from application.messages import Detail
from application.realtime import NOTE_PREFIX
from application.users import UserService, parse_user_id
from domain.chat import Chat
from domain.directory import DIRECTORY_ID
from domain.email_claim import normalise_email
from domain.erasure import Erasure, erasure_id
from domain.user import User

log = logging.getLogger("chronicle.erasure")

OPERATOR = Principal(id="operator", role="admin", via="operator")  # `chronicle erase-user`
Progress = Callable[[str, int, int], None]  # (stage, done, total)
BATCH = 100  # chats or folders deleted per command
# Aggregates whose ownership moves (models by an admin's sync), with the fields a re-creation
# carries (domain.model.Model.recreate, domain.tool.Tool.recreate).
RESTATE = {
    "Model": ("base_model_id", "name", "meta", "params", "access_control", "is_active"),
    "Tool": ("name", "content", "meta", "specs", "valves_schema", "user_valves_schema",
             "access_control"),
}


class ErasureStore(Protocol):
    def get(self, aggregate_id: UUID, version: int | None = None) -> Any: ...

    def head(self) -> int: ...

    def streams_of(self, owner: str, progress: Callable[[int, int], None] | None = None
                   ) -> dict[UUID, Any]:
        """Aggregates with events `owner`'s key encrypts: {id: (kind, last_owner, born_owner)}."""
        ...

    def snapshot(self, aggregate_id: UUID) -> None: ...


class KeyVault(Protocol):
    def erase(self, owner: str, at: float) -> None: ...

    def is_erased(self, owner: str) -> bool: ...


class DerivedStores(Protocol):
    """What lives outside the log and has to forget the user (infrastructure adapters)."""

    def wait(self, position: int, timeout: float) -> bool: ...

    def forget_sessions(self, user_id: str, rate_keys: Sequence[str]) -> None: ...

    def shred_unreferenced(self, digests: Iterable[str]) -> int: ...

    def forget_embeddings(self, hashes: Iterable[str]) -> int: ...

    def forget_documents(self, document_ids: Sequence[str]) -> int: ...

    def refresh_vectors(self) -> None: ...

    def scrub(self) -> None: ...


@dataclass
class Workspace:
    """The services whose ordinary delete commands an erasure uses."""

    users: UserService
    files: Any
    knowledge: Any
    models: Any
    tools: Any
    prompts: Any = None  # deleting a prompt also frees its command for others


@dataclass
class Plan:
    """What the purge needs to know, gathered while the user's data can still be read."""

    user_id: str
    emails: list[str] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)
    chunk_hashes: set[str] = field(default_factory=set)


@dataclass
class Report:
    user_id: str
    already_erased: bool
    position: int  # of the UserErased event
    deleted: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0
    blobs: int = 0
    embeddings: int = 0
    documents: int = 0
    complete: bool = False  # every projection applied the erasure and the files were scrubbed


class ErasureDelayed(ApplicationError):
    """The read models lag behind the deletions: nothing was erased yet; retry."""

    status = 503


class ErasureService:
    def __init__(self, store: ErasureStore, runner: CommandRunner, workspace: Workspace,
                 keys: KeyVault, stores: DerivedStores, wait_timeout: float = 30.0,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.runner = runner
        self.workspace = workspace
        self.keys = keys
        self.stores = stores
        self.wait_timeout = wait_timeout
        self.clock = clock

    # -- entry points -----------------------------------------------------------------------
    def erase_user(self, principal: Principal, user_id: str,
                   progress: Progress | None = None) -> Report:
        """An admin erases another user (never themselves, the primary or the last admin)."""
        if not principal.is_admin:
            raise Forbidden(Detail.ACCESS_PROHIBITED)
        if user_id == principal.id:
            raise BadRequest(Detail.CANNOT_DELETE_SELF)
        return self._erase(principal, user_id, progress)

    def erase_as_operator(self, user_id: str, progress: Progress | None = None) -> Report:
        return self._erase(OPERATOR, user_id, progress)

    # -- the steps --------------------------------------------------------------------------
    def _erase(self, principal: Principal, user_id: str, progress: Progress | None) -> Report:
        uid = parse_user_id(user_id)
        user_id = str(uid)
        if self.keys.is_erased(user_id):
            streams = self.store.streams_of(user_id, _stage(progress, "scan"))
            return self._finish(Report(user_id, True, self.store.head()), streams, progress)
        user = self.store.get(uid)
        if not isinstance(user, User):
            raise NotFound(Detail.USER_NOT_FOUND)
        self._check_admins(user)
        streams = self.store.streams_of(user_id, _stage(progress, "scan"))
        report = Report(user_id, False, 0)
        report.deleted = self._delete_everything(principal, user, streams, progress)
        self._forget_derived(self._plan(user, streams), report)
        report.snapshots = self._keep_others(user_id, streams)
        report.position = self._record(user_id)
        self.keys.erase(user_id, self.clock())
        log.info("user erased", extra={"user_id": user_id, "position": report.position})
        return self._finish(report, streams, progress)

    def _forget_derived(self, plan: Plan, report: Report) -> None:
        """Blobs and embeddings only this user's files used: decided from the read models once
        they applied the deletions, and while the deleted files can still be read."""
        if not self.stores.wait(self.store.head(), self.wait_timeout):
            raise ErasureDelayed(Detail.DEFAULT(
                "The read models are still applying the deletions; retry the erasure."))
        report.blobs = self.stores.shred_unreferenced(plan.digests)
        report.embeddings = self.stores.forget_embeddings(plan.chunk_hashes)
        # AuthService.signin limits attempts per address under this key.
        self.stores.forget_sessions(plan.user_id, [f"signin:{normalise_email(e)}"
                                                   for e in plan.emails])

    def _finish(self, report: Report, streams: dict[UUID, Any],
                progress: Progress | None) -> Report:
        """What needs no key: session state, documents, the vector index, the files."""
        s = self.stores
        s.forget_sessions(report.user_id, [])
        report.documents = s.forget_documents([NOTE_PREFIX + str(i) for i in streams])
        s.refresh_vectors()
        report.complete = s.wait(report.position, self.wait_timeout)
        if report.complete:
            s.scrub()
        if progress:
            progress("purge", 1, 1)
        return report

    def _check_admins(self, user: User) -> None:
        """Refused before anything is deleted: the checks UserService.delete makes at the end."""
        directory = self.store.get(DIRECTORY_ID)
        if directory is None or user.deleted:
            return
        if directory.is_primary(str(user.id)):
            raise Forbidden(Detail.PRIMARY_ADMIN_PROTECTED)
        if user.role == "admin" and directory.admins == [str(user.id)]:
            raise Forbidden(Detail.LAST_ADMIN)

    def _plan(self, user: User, streams: dict[UUID, Any]) -> Plan:
        plan = Plan(str(user.id), emails=[user.email])
        for aggregate_id, stream in streams.items():
            if stream.kind == "File" and stream.last_owner == plan.user_id:
                file = self.store.get(aggregate_id)
                if file is not None:
                    plan.digests |= {h for h in (file.content_hash, file.text_hash) if h}
                    plan.chunk_hashes |= {str(c[3]) for c in file.chunks}
        return plan

    def _delete_everything(self, principal: Principal, user: User, streams: dict[UUID, Any],
                           progress: Progress | None) -> dict[str, int]:
        owned: dict[str, list[Any]] = {}
        for aggregate_id, stream in streams.items():
            if stream.last_owner == str(user.id):
                aggregate = self.store.get(aggregate_id)
                if _live(aggregate):
                    owned.setdefault(stream.kind, []).append(aggregate)
        w = self.workspace
        steps: list[tuple[str, Callable[[Any], Any]]] = [
            ("KnowledgeBase", lambda kb: w.knowledge.delete(principal, kb.knowledge_id)),
            ("File", lambda f: w.files.delete(principal, f.file_id)),
            ("Model", lambda m: w.models.delete(principal, m.model_id)),
            ("Tool", lambda t: w.tools.delete(principal, t.tool_id)),
            ("Prompt", lambda p: w.prompts.delete(principal, str(p.id))),
        ]
        deleted = {kind: self._each(kind, owned.get(kind, []), act, progress)
                   for kind, act in steps}
        deleted["Chat"] = self._in_batches("Chat", owned.get("Chat", []), _trash_and_purge,
                                           progress)
        deleted["Folder"] = self._in_batches("Folder", owned.get("Folder", []),
                                             lambda f: f.delete(), progress)
        deleted["Note"] = self._in_batches("Note", owned.get("Note", []), lambda n: n.delete(),
                                           progress)
        if not user.deleted:
            w.users.delete(principal, str(user.id))
            deleted["User"] = 1
        return deleted

    def _each(self, kind: str, aggregates: list[Any], act: Callable[[Any], Any],
              progress: Progress | None) -> int:
        done = 0
        for i, aggregate in enumerate(aggregates, 1):
            try:
                act(aggregate)
                done += 1
            except NotFound:
                pass  # deleted meanwhile
            if progress:
                progress(f"delete {kind}", i, len(aggregates))
        return done

    def _in_batches(self, kind: str, aggregates: list[Any], change: Callable[[Any], None],
                    progress: Progress | None) -> int:
        for start in range(0, len(aggregates), BATCH):
            ids = [a.id for a in aggregates[start : start + BATCH]]

            def decide(ids: list[UUID] = ids) -> tuple[None, list[Any]]:
                fresh = [a for a in map(self.store.get, ids) if a is not None]
                for aggregate in fresh:
                    change(aggregate)
                return None, fresh

            self.runner.run(f"erasure.delete_{kind.lower()}", decide)
            if progress:
                progress(f"delete {kind}", min(start + BATCH, len(aggregates)), len(aggregates))
        return len(aggregates)

    def _keep_others(self, user_id: str, streams: dict[UUID, Any]) -> int:
        """Aggregates the user once owned and someone else owns now (a released e-mail claim, a
        model an admin's sync took over): a snapshot under the current owner's key keeps them
        loadable once their first events are tombstones."""
        taken = 0
        for aggregate_id, stream in streams.items():  # owners as they are now
            aggregate = self.store.get(aggregate_id)
            if aggregate is None or str(getattr(aggregate, "owner_id", "") or "") == user_id:
                continue
            if stream.born_owner == user_id and stream.kind in RESTATE and \
                    not getattr(aggregate, "deleted", False):
                self._restate(aggregate_id, RESTATE[stream.kind])
            self.store.snapshot(aggregate_id)
            taken += 1
        return taken

    def _restate(self, aggregate_id: UUID, fields: tuple[str, ...]) -> None:
        """A read model rebuilds a row from its creation event, which is about to become a
        tombstone: the current owner re-creates it, with what it holds now, under their key."""
        def decide() -> tuple[None, list[Any]]:
            aggregate = self.store.get(aggregate_id)
            kept = {k: getattr(aggregate, k) for k in fields}
            valves = getattr(aggregate, "valves", None)
            aggregate.delete()
            aggregate.recreate(aggregate.user_id, kept)
            if valves:
                aggregate.set_valves(valves)
            return None, [aggregate]

        self.runner.run("erasure.restate", decide)

    def _record(self, user_id: str) -> int:
        def decide() -> tuple[None, list[Any]]:
            if self.store.get(erasure_id(user_id)) is not None:
                return None, []  # recorded by an earlier attempt that stopped before the key
            return None, [Erasure.record(user_id, self.clock())]

        return self.runner.run("users.erase", decide).position or self.store.head()


def _live(aggregate: Any) -> bool:
    """Still to delete: not deleted, or a chat in the trash (purged for good)."""
    if aggregate is None:
        return False
    if isinstance(aggregate, Chat):
        return not getattr(aggregate, "purged", False)
    return not getattr(aggregate, "deleted", False)


def _trash_and_purge(chat: Any) -> None:
    chat.delete()
    purge = getattr(chat, "purge", None)
    if purge is not None and not getattr(chat, "purged", False):
        purge()


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)
