"""Operator tool: check the log and every read model against it (`chronicle verify [--json]`).

One read of the log does three things with each page:
  1. recomputes every aggregate's hash chain (an event altered or removed in the database);
  2. replays every aggregate, as loading it would (an event that does not decode, versions
     that do not follow);
  3. applies the events to scratch copies of every read model, each up to its live position.
Then each scratch copy is brought to the position its live read model has reached meanwhile
and compared with it row by row (holding the live projector's row, so it waits), and dropped.
Also reported: projectors stopped on a failure, and the saved FAISS index's vectors against the
retrieval read model. Exit 0 when all is well, 1 on any finding.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from rich.console import Console

from infrastructure.event_store import chained_projection, fold
from infrastructure.integrity import ChainVerifier, Problem
from infrastructure.keys import derive_kek
from projections.compare import Comparison
from projections.runtime import (
    STATE_TABLE,
    Page,
    compare_scratch,
    drop_scratch,
    fill,
    scratch_target,
)

LISTED = 100  # findings listed per kind; the totals count them all


@dataclass
class Findings:
    """One kind of finding: the first LISTED, and how many there were."""

    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def add(self, item: dict[str, Any]) -> None:
        self.total += 1
        if len(self.items) < LISTED:
            self.items.append(item)


@dataclass
class Report:
    head: int = 0
    events: int = 0
    aggregates: int = 0
    chains: Findings = field(default_factory=Findings)
    undecodable: Findings = field(default_factory=Findings)
    replay: Findings = field(default_factory=Findings)
    failed_projectors: Findings = field(default_factory=Findings)
    read_models: list[Comparison] = field(default_factory=list)
    vector_index: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.findings == 0

    @property
    def findings(self) -> int:
        return (self.chains.total + self.undecodable.total + self.replay.total
                + self.failed_projectors.total + sum(not c.agrees for c in self.read_models)
                + int(bool(self.vector_index.get("extra_total") or
                           self.vector_index.get("missing_total"))))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.findings == 0, "findings": self.findings, "head": self.head,
                "events": self.events, "aggregates": self.aggregates,
                "hash_chains": vars(self.chains), "undecodable_events": vars(self.undecodable),
                "aggregate_replay": vars(self.replay),
                "failed_projectors": vars(self.failed_projectors),
                "read_models": [c.as_dict() for c in self.read_models],
                "vector_index": self.vector_index}


class AggregateReplay:
    """Folds each aggregate's events as they stream by, exactly as loading it from the store
    does. At most `cap` aggregates are held; past that the oldest are set aside and loaded from
    the store one by one at the end, so memory stays bounded however long the log."""

    def __init__(self, report: Report, cap: int = 50_000):
        self.report = report
        self.cap = cap
        self.open: dict[UUID, Any] = {}
        self.seen: set[UUID] = set()
        self.deferred: set[UUID] = set()
        self.failed: set[UUID] = set()

    def feed(self, page: Page) -> None:
        for row, error in page.errors:
            self._fail(row.originator_id, row.originator_version, error)
        for _, event in page.events:
            aggregate_id = event.originator_id
            self.seen.add(aggregate_id)
            if aggregate_id in self.deferred or aggregate_id in self.failed:
                continue
            try:
                self.open[aggregate_id] = fold(self.open.get(aggregate_id), event)
            except Exception as error:
                self._fail(aggregate_id, event.originator_version, error)
        while len(self.open) > self.cap:
            oldest = next(iter(self.open))
            self.deferred.add(oldest)
            del self.open[oldest]

    def _fail(self, aggregate_id: UUID, version: int, error: Exception) -> None:
        if aggregate_id in self.failed:
            return
        self.failed.add(aggregate_id)
        self.open.pop(aggregate_id, None)
        self.report.replay.add({"aggregate_id": str(aggregate_id), "version": version,
                                "error": f"{type(error).__name__}: {error}"})

    def finish(self, store: Any, progress: Any = None) -> None:
        """Load the aggregates that were set aside, from their own events."""
        app = store.app
        for done, aggregate_id in enumerate(sorted(self.deferred - self.failed, key=str), 1):
            stored = app.recorder.select_events(aggregate_id)
            try:
                chained_projection(None, (app.mapper.to_domain_event(s) for s in stored))
            except Exception as error:
                self._fail(aggregate_id, 0, error)
            if progress:
                progress(done)
        self.report.aggregates = len(self.seen)


class Verifier:
    def __init__(self, container: Any, console: Console | None = None):
        self.c = container
        self.console = console or Console(stderr=True)
        self.report = Report()
        self.chains = ChainVerifier(derive_kek(container.settings.secret_key(), b"event-chain"))
        self.replay = AggregateReplay(self.report)

    def run(self) -> Report:
        from scripts.rebuild import progress_bar

        store, db = self.c.store, self.c.read_db
        self.report.head = head = store.head()
        targets = [scratch_target(db, cls) for cls in self._read_models()]
        try:
            with progress_bar("verify", head, self.console) as bar:
                self.report.events = fill(db, store, targets, 0, head,
                                          progress=lambda _, p: bar(p), tolerant=True,
                                          each=self._page)
            with progress_bar("aggregates", len(self.replay.deferred), self.console) as bar:
                self.replay.finish(store, bar)
            self.report.read_models = [compare_scratch(db, store, t) for t in targets]
        finally:
            for target in targets:
                drop_scratch(db, target)
        self._projector_failures()
        self.report.vector_index = check_vector_index(self.c)
        return self.report

    def _read_models(self) -> list[type]:
        host = self.c.host
        feeds: set[str] = getattr(host, "feed_names", set())
        return [cls for name, cls in host.classes.items() if name not in feeds and cls.tables]

    def _page(self, page: Page) -> None:
        for problem in self.chains.check(page.rows):
            self.report.chains.add(_problem(problem))
        for row, error in page.errors:
            self.report.undecodable.add({"position": int(row.id),
                                         "aggregate_id": str(row.originator_id),
                                         "version": int(row.originator_version),
                                         "error": f"{type(error).__name__}: {error}"})
        self.replay.feed(page)

    def _projector_failures(self) -> None:
        for row in self.c.read_db.query(f"SELECT name, position, last_error FROM {STATE_TABLE} "
                                        f"WHERE status = 'failed'"):
            if "@" not in row["name"]:
                self.report.failed_projectors.add(dict(row))


def _problem(problem: Problem) -> dict[str, Any]:
    return {"position": problem.position, "aggregate_id": problem.aggregate_id,
            "version": problem.version, "reason": problem.reason}


def check_vector_index(container: Any) -> dict[str, Any]:
    """The saved FAISS index against the retrieval read model at the position it covers:
    a vector under an id the read model does not hold live is `extra`; a live entry without a
    vector, although the embedding cache has one, is `missing`."""
    from projections.retrieval_index import NAME, SIDECAR

    directory = container.settings.DATA_DIR / "vector_index"
    try:
        sidecar = json.loads((directory / SIDECAR).read_text())
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return {"skipped": "no saved index"}
    state = container.read_db.query(f"SELECT generation FROM {STATE_TABLE} WHERE name = ?",
                                    (NAME,))
    if not state or sidecar.get("generation") != int(state[0]["generation"]):
        return {"skipped": "the saved index belongs to another generation of the read model "
                           "(it is rebuilt from the read model when next loaded)"}
    covered = int(manifest["position"])
    saved = _saved_ids(directory, manifest)
    expected, later = _expected_ids(container.read_db, covered)
    extra = saved - later - expected.keys()
    missing = expected.keys() - saved
    if missing:
        cached = container.retrieval.ports.lookup(sidecar.get("model"),
                                                  {expected[m] for m in missing})
        missing = {m for m in missing if expected[m] in cached}
    return {"position": covered, "vectors": len(saved), "extra_total": len(extra),
            "extra": sorted(extra)[:10], "missing_total": len(missing),
            "missing": sorted(missing)[:10]}


def _saved_ids(directory: Any, manifest: dict[str, Any]) -> set[tuple[str, int]]:
    import faiss

    ids: set[tuple[str, int]] = set()
    for collection, filename in manifest.get("collections", {}).items():
        index: Any = faiss.read_index(str(directory / filename))  # an IndexIDMap2
        ids.update((collection, int(i)) for i in faiss.vector_to_array(index.id_map))
    return ids


def _expected_ids(db: Any, covered: int) -> tuple[dict[tuple[str, int], str], set[tuple[str, int]]]:
    """Live entries unchanged since `covered` (id → sha256), and entries changed after it."""
    expected: dict[tuple[str, int], str] = {}
    later: set[tuple[str, int]] = set()
    for row in db.query("SELECT collection, chunk_id, sha256, live, position FROM rag_entries"):
        key = (row["collection"], int(row["chunk_id"]))
        if int(row["position"]) > covered:
            later.add(key)
        elif int(row["live"]):
            expected[key] = row["sha256"]
    return expected, later


def verify_all(container: Any, console: Console | None = None) -> Report:
    """Everything `chronicle verify` checks, for a container built by the caller."""
    return Verifier(container, console).run()


def print_report(report: Report) -> None:
    print(f"log: {report.events} events up to position {report.head}, "
          f"{report.aggregates} aggregates")
    _section("hash chains", report.chains, "intact")
    _section("events", report.undecodable, "all decode")
    _section("aggregates", report.replay, "all replay")
    _section("projectors", report.failed_projectors, "none stopped on a failure")
    print("read models:")
    for comparison in report.read_models:
        print(f"  {comparison.summary()}")
        for table in comparison.tables:
            for sample in table.samples:
                print(f"    {table.table} only in {sample['side']}: {sample['row']}")
    print(f"vector index: {json.dumps(report.vector_index, default=str)}")
    print("verify: OK" if report.findings == 0 else f"verify: FAILED ({report.findings} findings)")


def _section(title: str, findings: Findings, clean: str) -> None:
    if not findings.total:
        print(f"{title}: {clean}")
        return
    print(f"{title}: {findings.total} problem(s)")
    for item in findings.items:
        print(f"  {json.dumps(item, default=str)}")


def run(as_json: bool = False) -> int:
    from interfaces.composition.bootstrap import bootstrap

    container = bootstrap(run_projectors=False)
    try:
        report = verify_all(container)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        container.close()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print_report(report)
    return 0 if report.findings == 0 else 1


if __name__ == "__main__":
    from scripts.chronicle import run_as

    sys.exit(run_as("verify"))
