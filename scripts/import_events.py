"""Operator tool: import an NDJSON export into this store (`chronicle import FILE`).

The whole file is checked before anything is written: every line's checksum, the order of the
lines (header, keys, events, trailer), the trailer's counts and running digest, each
aggregate's hash chain, that every data key unwraps with this server's secret, and that
nothing in it contradicts the store (an event already here with other bytes, a different key
for an owner). On any problem it exits non-zero and writes nothing.

Then keys are added (an owner already here keeps its key; an erased owner stays erased) and
the events appended in file order: the store gives them new positions, the order is kept.
Events already present with the same bytes are skipped, so re-importing a file changes
nothing, and an import interrupted half-way is completed by running it again. Projectors
then build the read models from the new events as usual.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import StoredEvent

from infrastructure.integrity import ChainVerifier
from infrastructure.keys import derive_kek
from scripts.export_events import FORMAT, VERSION, Seal
from scripts.rebuild import progress_bar, say

BATCH = 1000
MAX_PROBLEMS = 20
ORDER = {"header": 0, "key": 1, "event": 2, "trailer": 3}


class Refused(Exception):
    """The file cannot be imported as it is."""


@dataclass
class Plan:
    """What the check found: problems, and what writing the file will add."""

    problems: list[str] = field(default_factory=list)
    more_problems: int = 0
    events: int = 0
    present: set[tuple[UUID, int]] = field(default_factory=set)  # already here, same bytes
    keys: list[tuple[str, bytes | None, float | None]] = field(default_factory=list)
    kept_keys: int = 0  # owners already known here
    trailer_seen: bool = False

    def problem(self, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)
        else:
            self.more_problems += 1


def lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line


class FileCheck:
    """Pass one: everything about the file and its fit with the store, writing nothing."""

    def __init__(self, container: Any):
        secret = container.settings.secret_key()
        self.seal = Seal(secret)
        self.kek = AESGCM(derive_kek(secret))
        self.chains = ChainVerifier(derive_kek(secret, b"event-chain"))
        self.store = container.store
        self.vault = container.vault
        self.empty = container.store.head() == 0
        self.plan = Plan()
        self.stage = -1
        self.last_position = 0
        self.key_count = 0
        self.existing: dict[UUID, dict[int, bytes]] = {}

    def run(self, path: Path, progress: Callable[[int], None] | None = None) -> Plan:
        for number, text in lines(path):
            self.line(number, text)
            if progress and self.plan.events % BATCH == 0:
                progress(self.last_position)
        if not self.plan.trailer_seen:
            self.plan.problem("the file ends before its trailer: it is truncated")
        return self.plan

    def line(self, number: int, text: str) -> None:
        try:
            record = json.loads(text)
            checksum = record.pop("checksum")
            kind = record["kind"]
        except (ValueError, KeyError, TypeError, AttributeError):
            self.plan.problem(f"line {number}: not a sealed export record")
            return
        if not hmac.compare_digest(self.seal.checksum(record), str(checksum)):
            self.plan.problem(f"line {number}: checksum does not match: the line was altered, "
                              f"or the file was exported with another WEBUI_SECRET_KEY")
        digest = self.seal.digest
        self.seal.advance(str(checksum))
        if not self._in_order(number, kind):
            return
        try:
            getattr(self, f"_{kind}")(number, record, digest)
        except (KeyError, TypeError, ValueError) as error:
            self.plan.problem(f"line {number}: malformed {kind} record ({error!r})")

    def _in_order(self, number: int, kind: str) -> bool:
        stage = ORDER.get(kind)
        if stage is None:
            self.plan.problem(f"line {number}: unknown record kind {kind!r}")
            return False
        if stage < self.stage or (stage == self.stage and stage in (0, 3)) or (
                self.stage == -1 and stage != 0):
            self.plan.problem(f"line {number}: a {kind} record out of place")
            return False
        self.stage = stage
        return True

    def _header(self, number: int, record: dict[str, Any], digest: str) -> None:
        if record["format"] != FORMAT or record["version"] != VERSION:
            self.plan.problem(f"line {number}: not a {FORMAT} v{VERSION} file")

    def _trailer(self, number: int, record: dict[str, Any], digest: str) -> None:
        self.plan.trailer_seen = True
        if record["events"] != self.plan.events or record["keys"] != self.key_count:
            self.plan.problem(f"line {number}: the trailer counts {record['events']} events and "
                              f"{record['keys']} keys, the file holds {self.plan.events} and "
                              f"{self.key_count}: lines were dropped or added")
        if not hmac.compare_digest(str(record["digest"]), digest):
            self.plan.problem(f"line {number}: the running digest does not match: lines were "
                              f"dropped, added or reordered")

    def _key(self, number: int, record: dict[str, Any], digest: str) -> None:
        self.key_count += 1
        owner = str(record["owner"])
        wrapped = base64.b64decode(record["wrapped"]) if "wrapped" in record else None
        erased_at = None if wrapped is not None else float(record["erased_at"])
        key = self._unwrap(number, owner, wrapped) if wrapped is not None else None
        rows = self.vault.query("SELECT wrapped, erased_at FROM data_keys WHERE owner = ?",
                                (owner,))
        if not rows:
            self.plan.keys.append((owner, wrapped, erased_at))
            return
        self.plan.kept_keys += 1
        here = rows[0]
        if here["erased_at"] is None and erased_at is not None:
            self.plan.problem(f"line {number}: owner {owner} is erased in the file but not here "
                              f"(erase it here first if that is intended)")
        elif here["erased_at"] is None and key is not None and \
                self._unwrap(number, owner, bytes(here["wrapped"])) != key:
            self.plan.problem(f"line {number}: owner {owner} has a different data key here")

    def _unwrap(self, number: int, owner: str, wrapped: bytes) -> bytes | None:
        try:
            return self.kek.decrypt(wrapped[:12], wrapped[12:], owner.encode())
        except Exception:
            self.plan.problem(f"line {number}: the data key of {owner} does not unwrap with this "
                              f"server's WEBUI_SECRET_KEY")
            return None

    def _event(self, number: int, record: dict[str, Any], digest: str) -> None:
        self.plan.events += 1
        row = event_row(record)
        if row.id <= self.last_position:
            self.plan.problem(f"line {number}: position {row.id} after {self.last_position}: "
                              f"events out of order")
        self.last_position = max(self.last_position, row.id)
        for problem in self.chains.check([row]):
            self.plan.problem(f"line {number}: {problem.reason} (aggregate {problem.aggregate_id} "
                              f"version {problem.version})")
        if not self.empty:
            self._against_store(number, row)

    def _against_store(self, number: int, row: Any) -> None:
        versions = self.existing.get(row.originator_id)
        if versions is None:
            versions = {s.originator_version: _digest(s.state)
                        for s in self.store.app.recorder.select_events(row.originator_id)}
            self.existing[row.originator_id] = versions
        here = versions.get(row.originator_version)
        if here is None:
            return
        if here != _digest(row.state):
            self.plan.problem(f"line {number}: aggregate {row.originator_id} version "
                              f"{row.originator_version} is already here with other contents")
        else:
            self.plan.present.add((row.originator_id, row.originator_version))


def _digest(state: bytes) -> bytes:
    return hashlib.sha256(bytes(state)).digest()


def event_row(record: dict[str, Any]) -> Any:
    return SimpleNamespace(id=int(record["position"]), originator_id=UUID(record["originator_id"]),
                           originator_version=int(record["originator_version"]),
                           topic=str(record["topic"]), state=base64.b64decode(record["state"]))


def write(container: Any, path: Path, plan: Plan, progress: Callable[[int], None] | None = None
          ) -> int:
    """Pass two: keys, then the events not already present, in file order. The file is sealed
    again as it is read: should it change between the passes, the import stops."""
    with container.vault.transaction() as tx:
        tx.executemany("INSERT INTO data_keys (owner, wrapped, erased_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (owner) DO NOTHING", plan.keys)
    recorder, seal = container.store.app.recorder, Seal(container.settings.secret_key())
    batch: list[StoredEvent] = []
    added = 0
    for _, text in lines(path):
        record = json.loads(text)
        checksum = record.pop("checksum")
        if not hmac.compare_digest(seal.checksum(record), checksum):
            raise Refused("the file changed while it was being imported; run the import again")
        if record["kind"] != "event":
            continue
        row = event_row(record)
        if (row.originator_id, row.originator_version) in plan.present:
            continue
        batch.append(StoredEvent(originator_id=row.originator_id,
                                 originator_version=row.originator_version, topic=row.topic,
                                 state=row.state))
        if len(batch) >= BATCH:
            added += _insert(recorder, batch, progress, row.id)
    return added + _insert(recorder, batch, progress, 0)


def _insert(recorder: Any, batch: list[StoredEvent], progress: Callable[[int], None] | None,
            position: int) -> int:
    if batch:
        recorder.insert_events(batch)
    if progress and position:
        progress(position)
    count = len(batch)
    batch.clear()
    return count


def run(file: str) -> int:
    from interfaces.composition.bootstrap import bootstrap

    path = Path(file)
    if not path.is_file():
        say(f"no such file: {file}")
        return 2
    container = bootstrap(run_projectors=False)
    try:
        return _import(container, path)
    except Refused as error:
        say(f"import stopped: {error}")
        return 1
    except KeyboardInterrupt:
        say("interrupted: run the import again to complete it (it is idempotent)")
        return 130
    finally:
        container.close()


def _import(container: Any, path: Path) -> int:
    total = _last_position(path)
    with progress_bar("check", total) as advance:
        plan = FileCheck(container).run(path, advance)
    if plan.problems:
        say(f"refused, nothing was written: {path}")
        for problem in plan.problems:
            say(f"  {problem}")
        if plan.more_problems:
            say(f"  … and {plan.more_problems} more")
        return 1
    with progress_bar("import", total) as advance:
        added = write(container, path, plan, advance)
    say(f"imported {added} events ({len(plan.present)} already present) and "
                  f"{len(plan.keys)} keys ({plan.kept_keys} already known) from {path}")
    return 0


def _last_position(path: Path) -> int:
    """For the progress bar: the header's source head."""
    for _, text in lines(path):
        try:
            return int(json.loads(text).get("source_head", 0))
        except (ValueError, AttributeError, TypeError):
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1]))
